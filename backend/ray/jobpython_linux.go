package ray

import (
	"os"
	"strconv"
	"strings"
)

// ancestorMaps returns the memory maps of this process's parent, its parent and so on, at
// most n of them, nearest first (those it may not read are left out).
func ancestorMaps(n int) []string {
	var out []string
	pid := os.Getppid()
	for i := 0; i < n && pid > 1; i++ {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps"); err == nil {
			out = append(out, string(b))
		}
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			break
		}
		// "PID (comm) STATE PPID ...": comm may hold spaces and parentheses.
		s := string(st)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			break
		}
		if pid, err = strconv.Atoi(f[1]); err != nil {
			break
		}
	}
	return out
}
