package worker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray/internal/osproc"
)

// helperEnv makes the test binary a driver that starts one worker, prints the worker's pid
// and waits to be killed (see TestWorkerExitsWhenDriverDies).
const helperEnv = "FRAY_WORKER_TEST_HELPER"

func runHelper() int {
	p, err := Start(context.Background(), StartOptions{Host: newTestHost()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(p.PID())
	select {}
}

// The driver is SIGKILLed: its worker must not outlive it. (End of input alone is covered
// in-process by TestServeExitsOnEOF.)
func TestWorkerExitsWhenDriverDies(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	if err := osproc.Kill(pid, 0); err != nil {
		t.Fatalf("worker %d not running: %v", pid, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !waitGone(pid, 30*time.Second) {
		osproc.Kill(pid, syscall.SIGKILL)
		t.Fatalf("worker %d still alive 30s after its driver was killed", pid)
	}
}

// waitGone polls until no process has the id, or the limit passes.
func waitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for !errors.Is(osproc.Kill(pid, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
