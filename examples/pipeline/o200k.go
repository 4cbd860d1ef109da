//go:build o200k

package main

// Built with -tags o200k, this command links the o200k_base vocabulary (about 6 MB), so that
// --encoding o200k_base works. Without the tag it has cl100k_base only and says which tag to
// add when given o200k_base (see the tokenize package).
import _ "github.com/fray-go/fray/processing/tokenize/o200k"
