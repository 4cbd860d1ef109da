// Command hello is the smallest program, which TestGoBuildPlatform cross-compiles.
package main

func main() { println("hello") }
