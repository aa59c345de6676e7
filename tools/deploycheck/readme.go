package deploycheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// ReadmeVar is one row of the README's configuration table.
type ReadmeVar struct {
	Name string
	// UsedBy lists the functions' short names as the table writes them
	// ("start", "data deletion", …); "all" stands for every function.
	UsedBy []string
	// HasDefault: the meaning mentions a default, so the variable is optional.
	HasDefault bool
}

// UsedByFunction reports whether the row names label (or "all").
func (v ReadmeVar) UsedByFunction(label string) bool {
	return slices.Contains(v.UsedBy, "all") || slices.Contains(v.UsedBy, label)
}

var (
	readmeRowRE     = regexp.MustCompile("^\\|\\s*`([A-Z][A-Z0-9_]*)`\\s*\\|([^|]*)\\|(.*)\\|\\s*$")
	readmeDefaultRE = regexp.MustCompile(`(?i)\bdefault\b`)
)

// ReadReadmeConfig parses the table under the README's "## Configuration"
// heading: | `VAR` | used by | meaning |.
func ReadReadmeConfig(path string) (map[string]ReadmeVar, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]ReadmeVar{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == "Configuration"
			continue
		}
		if !in {
			continue
		}
		m := readmeRowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v := ReadmeVar{Name: m[1], HasDefault: readmeDefaultRE.MatchString(m[3])}
		for _, u := range strings.Split(m[2], ",") {
			if u = strings.ToLower(strings.TrimSpace(u)); u != "" {
				v.UsedBy = append(v.UsedBy, u)
			}
		}
		out[v.Name] = v
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no configuration table under \"## Configuration\"", path)
	}
	return out, sc.Err()
}
