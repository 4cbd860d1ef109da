//go:build cloud

package main

// Built with -tags cloud, this command links gocloud's cloud blob drivers, so that its
// storage flags accept gs://, s3:// and azblob:// URLs. Without the tag it carries only
// local files and mem:// and says which import to add when given a cloud URL (see the
// storage package).
import (
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)
