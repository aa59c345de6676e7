package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Exercised operations are recorded by shared/testenv/apicheck, one file
// per test process in $THREADSFN_API_COVERAGE_DIR, one exchange a line:
//
//	METHOD <tab> PATH <tab> STATUS
//
// where PATH is the spec's path of the operation.

// Exchange is one recorded exchange.
type Exchange struct {
	Method, Path string
	Status       int
}

// ReadCoverage reads every record file in dir.
func ReadCoverage(dir string) ([]Exchange, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tsv"))
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	var out []Exchange
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("coverage: %w", err)
		}
		sc := bufio.NewScanner(f)
		line := 0
		for sc.Scan() {
			line++
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			parts := strings.Split(sc.Text(), "\t")
			status := 0
			if len(parts) == 3 {
				status, err = strconv.Atoi(parts[2])
			}
			if len(parts) != 3 || err != nil {
				_ = f.Close()
				return nil, fmt.Errorf("coverage: %s:%d: want METHOD<tab>PATH<tab>STATUS, got %q", name, line, sc.Text())
			}
			out = append(out, Exchange{Method: parts[0], Path: parts[1], Status: status})
		}
		err = sc.Err()
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("coverage: %s: %w", name, err)
		}
	}
	return out, nil
}

// CoverageReport says which operations and statuses the tests exercised.
type CoverageReport struct {
	// Missing are operations no exchange exercised: the check fails.
	Missing []string
	// Unexercised are documented statuses no exchange produced (reported only).
	Unexercised []string
	// Unknown are exchanges of no operation of the spec (reported only:
	// the exchange validation already failed those tests).
	Unknown []string
	// Operations and Exchanges count what was checked.
	Operations, Exchanges int
}

// Coverage compares the recorded exchanges with the spec's operations.
func (s *Spec) Coverage(ex []Exchange) CoverageReport {
	r := CoverageReport{Exchanges: len(ex)}
	seen := map[string]map[int]bool{}
	for _, e := range ex {
		k := e.Method + " " + e.Path
		if seen[k] == nil {
			seen[k] = map[int]bool{}
		}
		seen[k][e.Status] = true
	}
	known := map[string]bool{}
	for _, op := range s.Operations() {
		r.Operations++
		k := op.String()
		known[k] = true
		if len(seen[k]) == 0 {
			r.Missing = append(r.Missing, k)
			continue
		}
		for _, st := range op.Statuses() {
			if !seen[k][st] {
				r.Unexercised = append(r.Unexercised, fmt.Sprintf("%s %d", k, st))
			}
		}
	}
	for k, statuses := range seen {
		if known[k] {
			continue
		}
		for st := range statuses {
			r.Unknown = append(r.Unknown, fmt.Sprintf("%s %d", k, st))
		}
	}
	sort.Strings(r.Unknown)
	return r
}

// String is the report as the coverage command prints it.
func (r CoverageReport) String() string {
	var b strings.Builder
	covered := r.Operations - len(r.Missing)
	fmt.Fprintf(&b, "API coverage: %d of %d operations exercised (%d exchanges)\n", covered, r.Operations, r.Exchanges)
	for _, m := range r.Missing {
		fmt.Fprintf(&b, "  MISSING   %s: no test exercises it\n", m)
	}
	if len(r.Unexercised) > 0 {
		fmt.Fprintf(&b, "documented answers no test produced (%d; not a failure):\n", len(r.Unexercised))
		for _, u := range r.Unexercised {
			fmt.Fprintf(&b, "  untested  %s\n", u)
		}
	}
	for _, u := range slices.Compact(r.Unknown) {
		fmt.Fprintf(&b, "  unknown   %s (not an operation of the spec)\n", u)
	}
	return b.String()
}
