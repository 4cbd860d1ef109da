// Package linked_test checks the other side of storage's opt-in cloud drivers: a program
// that blank-imports a driver (as this test does) opens its URLs without a
// SchemeNotLinkedError.
package linked_test

import (
	"context"
	"errors"
	"testing"

	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/fray-go/fray/storage"
)

func TestLinkedSchemesOpen(t *testing.T) {
	// Opening a bucket handle is lazy for all three drivers given explicit, offline options:
	// no request is made until the first read or write. Credentials come from the
	// environment, so only the absence of ErrSchemeNotLinked is asserted.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "frayteststorage")
	for _, url := range []string{"s3://fraytest-bucket", "gs://fraytest-bucket", "azblob://fraytest"} {
		fs, err := storage.Open(context.Background(), url)
		if errors.Is(err, storage.ErrSchemeNotLinked) {
			t.Fatalf("Open(%q) with the driver linked: %v", url, err)
		}
		if err == nil {
			fs.Close()
		}
	}
}
