//go:build !unix

package worker

import "syscall"

// startSupported refuses worker processes here: they speak the protocol over inherited
// file descriptors 3 and 4, which only unix systems hand to a child.
func startSupported() error { return errNoWorkerProcesses() }

func sysProcAttr() *syscall.SysProcAttr { return nil }

func childSetup() error { return errNoWorkerProcesses() }

// killGroup has no process group to kill here: Kill falls back to the process alone.
func killGroup(int) error { return errNoWorkerProcesses() }
