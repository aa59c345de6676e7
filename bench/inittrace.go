package main

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// initLine is a line of GODEBUG=inittrace=1 output:
// "init net/http @2.1 ms, 0.12 ms clock, 41584 bytes, 520 allocs".
var initLine = regexp.MustCompile(`^init (\S+) @\S+ ms, (\S+) ms clock, (\d+) bytes, (\d+) allocs`)

// initTrace is what package initialisation cost one start of a binary.
type initTrace struct {
	Packages int
	Ms       float64
	Bytes    int64
	ByPkg    map[string]float64
}

func parseInitTrace(s string) initTrace {
	t := initTrace{ByPkg: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		m := initLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ms, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		t.Packages++
		t.Ms += ms
		t.Bytes += b
		t.ByPkg[m[1]] += ms
	}
	return t
}

// traceInit starts a binary with GODEBUG=inittrace=1 until it listens, and
// reads how long each package's initialisation took. It serves no request,
// so the benchmark's base project is named but never used.
func (b *bench) traceInit(ctx context.Context, name string) (initTrace, error) {
	env := b.fnEnv(b.cfg.Emulators.Project)
	env["GODEBUG"] = "inittrace=1"
	p, err := startFunction(ctx, name, b.bins[name].Bin, env)
	if err != nil {
		return initTrace{}, err
	}
	p.stop()
	t := parseInitTrace(p.logs.String())
	if t.Packages == 0 {
		return t, fmt.Errorf("%s: no inittrace output", name)
	}
	return t, nil
}

// InitResult sums up package initialisation over several starts.
type InitResult struct {
	Packages int     `json:"packages"`
	Ms       Stat    `json:"ms"`
	KiB      Stat    `json:"allocatedKiB"`
	Top      []PkgMs `json:"top"`
}

// PkgMs is a package's mean initialisation time.
type PkgMs struct {
	Package string  `json:"package"`
	Ms      float64 `json:"ms"`
}

func summariseInit(ts []initTrace) *InitResult {
	if len(ts) == 0 {
		return nil
	}
	r := &InitResult{Packages: ts[0].Packages}
	var ms, kib []float64
	sum := map[string]float64{}
	for _, t := range ts {
		ms, kib = append(ms, t.Ms), append(kib, float64(t.Bytes)/1024)
		for k, v := range t.ByPkg {
			sum[k] += v
		}
	}
	r.Ms, r.KiB = statOf(ms), statOf(kib)
	for k, v := range sum {
		r.Top = append(r.Top, PkgMs{k, v / float64(len(ts))})
	}
	sort.Slice(r.Top, func(i, j int) bool { return r.Top[i].Ms > r.Top[j].Ms })
	r.Top = r.Top[:min(len(r.Top), 6)]
	return r
}
