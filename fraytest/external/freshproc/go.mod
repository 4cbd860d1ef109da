module github.com/fray-go/fray/fraytest/external/freshproc

go 1.26.8

require github.com/fray-go/fray v0.0.0

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/fray-go/fray => ../../..
