package ray

import (
	"os"
	"strings"
)

// addressFile is the file holding the address of the cluster that `fray cluster start`
// (and scripts/ray-cluster.sh, which runs it) started, beside tokenFile.
const addressFile = ".cache/ray-address"

// FindAddress is the cluster address Connect uses when Options.Address is empty: $RAY_ADDRESS,
// else the address in .cache/ray-address in the working directory or one of its parents
// (what `fray cluster start` writes), else "auto".
func FindAddress() string { return Options{}.address() }

// FindPython is the interpreter Connect uses when Options.Python is empty (see
// Options.Python).
func FindPython() string { return Options{}.python() }

// FindAuthToken returns the cluster's token for Ray's token authentication, looked for as
// Connect does (see Options.AuthTokenFile; file is that option), and where it came from. It
// returns "" and no error when there is none.
func FindAuthToken(file string) (token, source string, err error) {
	env, source, err := Options{AuthTokenFile: file}.authToken()
	if err != nil || len(env) == 0 {
		return "", "", err
	}
	k, v, _ := strings.Cut(env[0], "=")
	if k == "RAY_AUTH_TOKEN" {
		return strings.TrimSpace(v), source, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return "", "", err
	}
	return strings.TrimSpace(string(b)), source, nil
}

// recordedAddress is the address in the nearest .cache/ray-address, or "".
func recordedAddress() string {
	p := findUp(addressFile)
	if p == "" {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
