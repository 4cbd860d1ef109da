package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/fray-go/fray"
)

func TestMain(m *testing.M) {
	fray.Init()
	os.Exit(m.Run())
}

// TestQuickstart runs the README's program on the local backend.
func TestQuickstart(t *testing.T) {
	jc, err := connect(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	var out bytes.Buffer
	if err := run(fray.WithJobContext(context.Background(), jc), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "9 <nil>\n" {
		t.Fatalf("output %q, want %q", got, "9 <nil>\n")
	}
}
