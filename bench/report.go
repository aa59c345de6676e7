package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"threadsfunctions.dev/shared/publish"
)

// Report is everything a run measured, as written to -out.
type Report struct {
	Date      string            `json:"date"`
	Machine   Machine           `json:"machine"`
	Settings  Settings          `json:"settings"`
	Functions []*FunctionResult `json:"functions"`
	Connect   *ConnectResult    `json:"connectFlow"`
	Publish   []*PublishCounts  `json:"publishCounts"`
	Targets   []TargetCheck     `json:"targets"`
	Profiles  []*ProfileResult  `json:"profiles,omitempty"`
	Notes     []string          `json:"notes"`
}

// Settings are the run's parameters.
type Settings struct {
	Rounds      int    `json:"rounds"`
	Requests    int    `json:"requestsPerLoad"`
	Concurrency int    `json:"concurrency"`
	Latency     string `json:"threadsLatency"`
	Flows       int    `json:"connectFlows"`
	PublishRuns int    `json:"publishRunsPerKind"`
	// RuntimeEnv is the Go runtime's settings the functions are deployed
	// with (config.DeployedRuntimeEnv), KEY=VALUE, sorted; Env wins over it.
	RuntimeEnv []string `json:"deployedRuntimeEnv,omitempty"`
	// Env is what -env added to the functions' environment.
	Env []string `json:"functionEnv,omitempty"`
}

// TargetCheck compares one figure with the target.
type TargetCheck struct {
	What     string  `json:"what"`
	Function string  `json:"function,omitempty"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	NodeJS   string  `json:"nodejs,omitempty"`
	Met      bool    `json:"met"`
}

// target is one of the targets: at most (or, with atLeast, at
// least) limit.
type target struct {
	what, unit, node string
	limit            float64
	atLeast          bool
}

func (t target) check(fn string, v float64) TargetCheck {
	op := "≤"
	met := v <= t.limit
	if t.atLeast {
		op, met = "≥", v >= t.limit
	}
	return TargetCheck{What: t.what, Function: fn, Target: strings.TrimSpace(fmt.Sprintf("%s %g %s", op, t.limit, t.unit)), Measured: v, Unit: t.unit, NodeJS: t.node, Met: met}
}

// Targets from the issue, and the Node.js original's figures for context.
func targets() (cold, idle, peak target, cpu map[string]target, rps, connectSeq, textCalls, firstCheck, afterFinished target) {
	cold = target{what: "cold start (excl. waiting on Threads)", unit: "ms", node: "800–950 ms", limit: 110}
	idle = target{what: "memory idle", unit: "MiB", node: "200 MiB", limit: 40}
	peak = target{what: "memory peak at 80 concurrent", unit: "MiB", node: "257 MiB", limit: 64}
	cpu = map[string]target{
		nameAuthStart:    {what: "CPU per request", unit: "ms", node: "2.3 ms", limit: 0.6},
		nameAuthCallback: {what: "CPU per request", unit: "ms", limit: 1.0},
		namePublish:      {what: "CPU per request (text)", unit: "ms", node: "4.2 ms", limit: 1.0},
	}
	rps = target{what: "throughput at the load's concurrency (80 by default)", unit: "req/s", limit: 600, atLeast: true}
	connectSeq = target{what: "sequential Threads round trips per connect", unit: "", node: "3", limit: 2}
	textCalls = target{what: "Threads calls per text publish", unit: "", limit: 2}
	// "The first status check as soon as the container can be ready": the
	// fake's containers can be read at once, so no backoff step before it
	// (at most the job's Firestore write in between); "no wait after
	// FINISHED beyond one backoff step": the engine's first step.
	firstCheck = target{what: "first status read after the container's creation (worst run)", unit: "ms", limit: 100}
	afterFinished = target{what: "publish after the FINISHED status (worst run)", unit: "ms", limit: float64(publish.DefaultBackoff[0] / time.Millisecond)}
	return
}

func (r *Report) checkTargets() {
	cold, idle, peak, cpu, rps, connectSeq, textCalls, firstCheck, afterFinished := targets()
	var out []TargetCheck
	for _, f := range r.Functions {
		out = append(out,
			cold.check(f.Name, f.ColdExThreadsMs.Median),
			idle.check(f.Name, f.IdleRSSMiB.Median),
			peak.check(f.Name, f.PeakHWMMiB.Median),
			cpu[f.Name].check(f.Name, f.CPUPerReqMs.Median))
		if f.Name == nameAuthStart {
			out = append(out, rps.check(f.Name, f.RPS.Median))
		}
	}
	if r.Connect != nil {
		out = append(out, connectSeq.check("", r.Connect.SequentialThreads.Median))
	}
	for _, p := range r.Publish {
		if p.Kind == "text" {
			out = append(out, textCalls.check(namePublish, float64(p.ThreadsCallsTotal)))
		}
		if p.FirstCheckMs != nil {
			fc, af := firstCheck, afterFinished
			fc.what += ", " + p.Kind
			af.what += ", " + p.Kind
			out = append(out, fc.check(namePublish, p.FirstCheckMs.Max), af.check(namePublish, p.PublishAfterFinishedMs.Max))
		}
	}
	r.Targets = out
}

func (r *Report) findTarget(fn, what string) (TargetCheck, bool) {
	for _, t := range r.Targets {
		if t.Function == fn && strings.HasPrefix(t.What, what) {
			return t, true
		}
	}
	return TargetCheck{}, false
}

func verdict(met bool) string {
	if met {
		return "ok"
	}
	return "MISS"
}

func fmtStat(s Stat, prec int) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf("%.*f", prec, s.Median)
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, s.Median, prec, s.Min, prec, s.Max)
}

// printTable writes the human-readable summary.
func (r *Report) printTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nthreads-functions benchmark, %s\n", r.Date)
	fmt.Fprintf(w, "machine: %d cores, %s, %d MiB, Linux %s, %s %s; at start: load average %s, %.0f%% of the cores busy\n",
		m.Cores, m.CPUModel, m.MemTotalMiB, m.Kernel, m.GoVersion, m.OSArch, m.LoadAvg, 100*m.BusyBeforeRun)
	s := r.Settings
	fmt.Fprintf(w, "settings: %d rounds (a fresh instance each), %d requests per load at %d concurrent, fake Threads latency %s; median (min–max) over rounds\n",
		s.Rounds, s.Requests, s.Concurrency, s.Latency)
	if len(s.RuntimeEnv) > 0 {
		fmt.Fprintf(w, "functions' Go runtime settings, as deployed: %s\n", strings.Join(s.RuntimeEnv, " "))
	}
	if len(s.Env) > 0 {
		fmt.Fprintf(w, "functions' extra environment (-env, over the above): %s\n", strings.Join(s.Env, " "))
	}
	fmt.Fprintln(w)

	cold, idle, peak, cpu, rps, connectSeq, textCalls, firstCheck, afterFinished := targets()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "per function"
	for _, f := range r.Functions {
		name := f.Name
		if name == namePublish {
			name += " (text)"
		}
		header += "\t" + name
	}
	fmt.Fprintln(tw, header+"\ttarget\tNode.js original")
	row := func(label string, get func(*FunctionResult) Stat, prec int, what string, t *target) {
		line := label
		for _, f := range r.Functions {
			cell := fmtStat(get(f), prec)
			if what != "" {
				if tc, ok := r.findTarget(f.Name, what); ok {
					cell += " " + verdict(tc.Met)
				}
			}
			line += "\t" + cell
		}
		if t != nil {
			op := "≤"
			if t.atLeast {
				op = "≥"
			}
			line += fmt.Sprintf("\t%s %g %s\t%s", op, t.limit, t.unit, t.node)
		} else {
			line += "\t\t"
		}
		fmt.Fprintln(tw, line)
	}
	row("cold start: exec → first 200, ms", func(f *FunctionResult) Stat { return f.ColdStartMs }, 1, "", nil)
	row("  of which waiting on Threads, ms", func(f *FunctionResult) Stat { return f.ColdThreadsWaitMs }, 1, "", nil)
	row("  excluding Threads, ms", func(f *FunctionResult) Stat { return f.ColdExThreadsMs }, 1, cold.what, &cold)
	row("  port listening after, ms", func(f *FunctionResult) Stat { return f.ListenMs }, 1, "", nil)
	row("  CPU to first answer, ms", func(f *FunctionResult) Stat { return f.ColdCPUMs }, 0, "", nil)
	row("  package init (inittrace), ms", func(f *FunctionResult) Stat {
		if f.Init == nil {
			return Stat{}
		}
		return f.Init.Ms
	}, 1, "", nil)
	row("warm request alone, ms", func(f *FunctionResult) Stat { return f.WarmMs }, 1, "", nil)
	row("  cold start minus warm request, ms", func(f *FunctionResult) Stat { return f.ColdOverheadMs }, 1, "", nil)
	row("memory idle (after 1st request), MiB", func(f *FunctionResult) Stat { return f.IdleRSSMiB }, 1, idle.what, &idle)
	row("memory peak (VmHWM) at load, MiB", func(f *FunctionResult) Stat { return f.PeakHWMMiB }, 1, peak.what, &peak)
	row("CPU per request, ms", func(f *FunctionResult) Stat { return f.CPUPerReqMs }, 3, "CPU per request", nil)
	cpuLine, cpuNode := "  CPU targets", []string{}
	for _, f := range r.Functions {
		cpuLine += fmt.Sprintf("\t≤ %g", cpu[f.Name].limit)
		node := cpu[f.Name].node
		if node == "" {
			node = "–"
		}
		cpuNode = append(cpuNode, node)
	}
	fmt.Fprintf(tw, "%s\t\t%s\n", cpuLine, strings.Join(cpuNode, " / "))
	row(fmt.Sprintf("throughput at %d concurrent, req/s", s.Concurrency), func(f *FunctionResult) Stat { return f.RPS }, 0, rps.what, nil)
	rpsLine, rpsJudged := "  throughput target", false
	for _, f := range r.Functions {
		if f.Name == nameAuthStart {
			rpsLine += fmt.Sprintf("\t≥ %g", rps.limit)
			rpsJudged = true
		} else {
			rpsLine += "\t"
		}
	}
	if rpsJudged {
		fmt.Fprintln(tw, rpsLine+"\t\t")
	}
	row("latency p50, ms", func(f *FunctionResult) Stat { return f.P50Ms }, 1, "", nil)
	row("latency p95, ms", func(f *FunctionResult) Stat { return f.P95Ms }, 1, "", nil)
	row("latency p99, ms", func(f *FunctionResult) Stat { return f.P99Ms }, 1, "", nil)
	row("function's CPU during load, cores", func(f *FunctionResult) Stat { return f.FunctionCores }, 2, "", nil)
	row("machine busy during load (all cores)", func(f *FunctionResult) Stat { return f.MachineBusy }, 2, "", nil)
	var others []string
	if len(r.Functions) > 0 {
		for k := range r.Functions[0].OtherCPUPerReqMs {
			others = append(others, k)
		}
		sort.Strings(others)
	}
	for _, o := range others {
		row("  CPU per request in "+o+", ms", func(f *FunctionResult) Stat { return f.OtherCPUPerReqMs[o] }, 3, "", nil)
		if _, ok := r.Functions[0].OtherJITCores[o]; ok {
			row("    "+o+"'s JIT compilers during load, cores", func(f *FunctionResult) Stat { return f.OtherJITCores[o] }, 2, "", nil)
		}
	}
	row("TCP connections opened to Threads", func(f *FunctionResult) Stat { return f.ThreadsConns }, 0, "", nil)
	binLine := "binary size, MiB"
	for _, f := range r.Functions {
		binLine += fmt.Sprintf("\t%.1f", f.BinaryMiB)
	}
	fmt.Fprintln(tw, binLine+"\t\t")
	_ = tw.Flush()
	for _, f := range r.Functions {
		if len(f.WarmupRPS) > 0 {
			loads := make([]warmLoad, len(f.WarmupRPS))
			for i, rps := range f.WarmupRPS {
				loads[i].RPS = rps
				if i < len(f.WarmupJITCores) {
					loads[i].JITCores = f.WarmupJITCores[i]
				}
			}
			fmt.Fprintf(w, "%s: the emulators warmed up by %d unmeasured loads first, %s\n", f.Name, len(loads), fmtWarmup(loads))
		}
	}
	for _, f := range r.Functions {
		if f.Init == nil {
			continue
		}
		var top []string
		for _, p := range f.Init.Top[:min(len(f.Init.Top), 3)] {
			top = append(top, fmt.Sprintf("%s %.1f", p.Package, p.Ms))
		}
		fmt.Fprintf(w, "%s init: %d packages, %s KiB allocated; slowest (ms): %s\n", f.Name, f.Init.Packages, fmtStat(f.Init.KiB, 0), strings.Join(top, ", "))
	}

	if c := r.Connect; c != nil {
		fmt.Fprintf(w, "\nconnect flow: thAuthStart → thAuthCallback, warm instances, %d flows (measured)\n", c.Runs)
		tv, _ := r.findTarget("", connectSeq.what)
		fmt.Fprintf(w, "  end to end %s ms (thAuthStart %s, thAuthCallback %s); waiting on Threads %s ms\n",
			fmtStat(c.E2EMs, 1), fmtStat(c.StartMs, 1), fmtStat(c.CallbackMs, 1), fmtStat(c.ThreadsWait, 1))
		fmt.Fprintf(w, "  sequential Threads round trips: %s %s (target ≤ %g; Node.js %s)\n", fmtStat(c.SequentialThreads, 0), verdict(tv.Met), connectSeq.limit, connectSeq.node)
		fmt.Fprintf(w, "  Threads calls per flow: %s\n", fmtCounts(c.ThreadsCalls))
		for _, fnName := range []string{nameAuthStart, nameAuthCallback} {
			fmt.Fprintf(w, "  %s: Firestore RPCs %s; Auth emulator calls %s\n", fnName, fmtCounts(c.FirestoreRPCs[fnName]), fmtCounts(c.AuthCalls[fnName]))
		}
		if !c.Consistent {
			fmt.Fprintln(w, "  (counts differed between flows: the first flow's are shown)")
		}
	}
	if len(r.Publish) > 0 {
		fmt.Fprintf(w, "\nthPublish on the happy path, per request on a warm instance (measured)\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "kind\tThreads calls\tsequential\tFirestore RPCs\tCloud Tasks\tlatency, ms\tThreads calls by endpoint\tFirestore RPCs by method")
		for _, p := range r.Publish {
			calls := fmt.Sprint(p.ThreadsCallsTotal)
			if p.Kind == "text" {
				tc, _ := r.findTarget(namePublish, textCalls.what)
				calls += fmt.Sprintf(" %s (≤ %g)", verdict(tc.Met), textCalls.limit)
			}
			kind := p.Kind
			if !p.Consistent {
				kind += " (varied)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", kind, calls, p.SequentialThreads, p.FirestoreTotal, p.TasksCreated,
				fmtStat(p.LatencyMs, 1), fmtCounts(p.ThreadsCalls), fmtCounts(p.FirestoreRPCs))
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "media containers: status reads (first run); from the create answer to the first status read (target ≤ %g ms); from the FINISHED answer to the publish call (target ≤ %g ms, one backoff step)\n", firstCheck.limit, afterFinished.limit)
		for _, p := range r.Publish {
			if p.FirstCheckMs == nil {
				continue
			}
			fc, _ := r.findTarget(namePublish, firstCheck.what+", "+p.Kind)
			af, _ := r.findTarget(namePublish, afterFinished.what+", "+p.Kind)
			fmt.Fprintf(w, "  %-27s %d reads; first read after %s ms %s; publish after %s ms %s\n", p.Kind, p.StatusReads,
				fmtStat(*p.FirstCheckMs, 1), verdict(fc.Met), fmtStat(*p.PublishAfterFinishedMs, 1), verdict(af.Met))
		}
	}

	met, missed := 0, []string{}
	for _, t := range r.Targets {
		if t.Met {
			met++
			continue
		}
		name := t.What
		if t.Function != "" {
			name = t.Function + ": " + name
		}
		measured := fmt.Sprintf("%.4g", t.Measured)
		if t.Unit != "" {
			measured += " " + t.Unit
		}
		missed = append(missed, fmt.Sprintf("%s = %s (target %s)", name, measured, strings.TrimSpace(t.Target)))
	}
	fmt.Fprintf(w, "\ntargets: %d met, %d missed\n", met, len(missed))
	for _, m := range missed {
		fmt.Fprintf(w, "  MISS %s\n", m)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func fmtCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// readReport reads a report written by writeJSON.
func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func (r *Report) writeJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
