package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"threadsfunctions.dev/shared/testenv"
)

// TestSmoke runs every code path of the benchmark with tiny counts against
// the emulators the test command started: the function binaries are built
// and run, measured, counted and profiled, and the report is written. It
// checks that each measurement was produced, never what it says: no figure
// is judged and no time asserted.
func TestSmoke(t *testing.T) {
	e := testenv.Require(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report.json")
	cfg := Config{
		Rounds: 1, Requests: 6, Concurrency: 3, Latency: time.Millisecond, Flows: 1, PublishRuns: 1,
		Out:        out,
		ProfileDir: filepath.Join(dir, "profiles"), ProfileFunctions: []string{nameAuthStart},
		WorkDir:   filepath.Join(dir, "work"),
		Emulators: emulators{Project: e.ProjectID, FirestoreHost: e.FirestoreHost, AuthHost: e.AuthHost},
		Log:       t.Output(), Table: t.Output(),
		Env: envList{"GOGC=100"}, // the default: exercises -env without changing the run
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	if !slices.Equal(rep.Settings.Env, []string(cfg.Env)) {
		t.Errorf("report's functionEnv = %q, want %q", rep.Settings.Env, cfg.Env)
	}
	if !slices.Equal(rep.Settings.RuntimeEnv, runtimeEnvList()) {
		t.Errorf("report's deployedRuntimeEnv = %q, want %q", rep.Settings.RuntimeEnv, runtimeEnvList())
	}
	if rep.Machine.Cores == 0 || rep.Machine.CPUModel == "" || rep.Machine.GoVersion == "" {
		t.Errorf("machine not described: %+v", rep.Machine)
	}
	if len(rep.Functions) != 3 {
		t.Fatalf("%d functions measured, want 3", len(rep.Functions))
	}
	for _, f := range rep.Functions {
		if len(f.WarmupRPS) < minWarmLoads || len(f.WarmupRPS) > maxWarmLoads {
			t.Errorf("%s: %d emulator warm-up loads, want %d to %d", f.Name, len(f.WarmupRPS), minWarmLoads, maxWarmLoads)
		}
		if len(f.Rounds) != 1 {
			t.Errorf("%s: %d rounds, want 1", f.Name, len(f.Rounds))
			continue
		}
		r := f.Rounds[0]
		for _, m := range []struct {
			name string
			v    float64
		}{
			{"binary size", f.BinaryMiB},
			{"cold start", r.ColdStartMs},
			{"listening", r.ListenMs},
			{"warm latency", r.WarmMs},
			{"idle memory", r.IdleRSSMiB},
			{"peak memory", r.PeakHWMMiB},
			{"throughput", r.RPS},
			{"p50", r.P50Ms},
			{"p99", r.P99Ms},
			{"requests", float64(r.Requests)},
		} {
			if !(m.v > 0) {
				t.Errorf("%s: %s not measured (%v)", f.Name, m.name, m.v)
			}
		}
		// CPU time comes in 10 ms ticks: a handful of requests may use
		// less than one, so only its presence is checked.
		if r.CPUMs < 0 || r.CPUPerReqMs < 0 || f.CPUPerReqMs.N != 1 {
			t.Errorf("%s: CPU per request not measured: %+v", f.Name, f.CPUPerReqMs)
		}
		if r.Errors != 0 {
			t.Errorf("%s: %d requests failed: %s", f.Name, r.Errors, r.FirstError)
		}
		if f.Init == nil || f.Init.Packages == 0 || !(f.Init.Ms.Median > 0) {
			t.Errorf("%s: package init not traced: %+v", f.Name, f.Init)
		}
		if len(f.OtherCPUPerReqMs) == 0 {
			t.Errorf("%s: no CPU read for the other processes", f.Name)
		}
		// The Firestore emulator is a JVM: its JIT compilers are read
		// around every load, as the warm-up's stopping rule needs.
		if _, ok := f.OtherJITCores["Firestore emulator"]; !ok || len(f.WarmupJITCores) != len(f.WarmupRPS) {
			t.Errorf("%s: the Firestore emulator's JIT compilers not read: rounds %v, warm-up %v", f.Name, f.OtherJITCores, f.WarmupJITCores)
		}
	}
	if f := rep.Functions[1]; f.Name != nameAuthCallback || !(f.ColdThreadsWaitMs.Median > 0) {
		t.Errorf("%s: no Threads wait measured in the cold start: %+v", f.Name, f.ColdThreadsWaitMs)
	}

	c := rep.Connect
	if c == nil {
		t.Fatal("no connect flow measured")
	}
	if !(c.E2EMs.Median > 0) || !(c.SequentialThreads.Median > 0) || len(c.ThreadsCalls) == 0 {
		t.Errorf("connect flow not measured: %+v", c)
	}
	for _, name := range []string{nameAuthStart, nameAuthCallback} {
		if sumCounts(c.FirestoreRPCs[name]) == 0 {
			t.Errorf("connect flow: no Firestore RPCs counted for %s", name)
		}
	}
	if sumCounts(c.AuthCalls[nameAuthStart]) == 0 {
		t.Error("connect flow: no Auth calls counted for thAuthStart")
	}

	if len(rep.Publish) != 4 {
		t.Fatalf("%d publish kinds counted, want 4", len(rep.Publish))
	}
	// Status reads per kind: a text post has none; the video's container is
	// IN_PROGRESS once, so it is read twice.
	wantReads := map[string]int{"text": 0, "image": 1, "carousel (2 images)": 3, kindVideo: 2}
	for _, p := range rep.Publish {
		if p.ThreadsCallsTotal == 0 || p.SequentialThreads == 0 || p.FirestoreTotal == 0 || !(p.LatencyMs.Median > 0) {
			t.Errorf("publish %s not counted: %+v", p.Kind, p)
		}
		// Done in the request, a post needs no task (the sweep covers a
		// dead instance's job).
		if p.TasksCreated != 0 {
			t.Errorf("publish %s: %d Cloud Tasks created on the happy path, want none", p.Kind, p.TasksCreated)
		}
		// A text post's container is created before its job, which is
		// stored already "publishing": the job is written twice (created,
		// published), after the accounts query.
		if want := map[string]int{"Commit": 2, "RunQuery": 1}; p.Kind == "text" && !maps.Equal(p.FirestoreRPCs, want) {
			t.Errorf("publish text: Firestore RPCs %v, want %v", p.FirestoreRPCs, want)
		}
		if want, ok := wantReads[p.Kind]; !ok || p.StatusReads != want {
			t.Errorf("publish %s: %d status reads, want %d", p.Kind, p.StatusReads, want)
		}
		if (p.FirstCheckMs != nil) != (p.StatusReads > 0) || (p.PublishAfterFinishedMs != nil) != (p.StatusReads > 0) {
			t.Errorf("publish %s: media waits measured %v/%v with %d status reads", p.Kind, p.FirstCheckMs, p.PublishAfterFinishedMs, p.StatusReads)
		}
	}
	if len(rep.Targets) == 0 {
		t.Error("no targets checked")
	}

	if len(rep.Profiles) != 1 || len(rep.Profiles[0].Files) == 0 {
		t.Fatalf("profiles: %+v", rep.Profiles)
	}
	for _, f := range rep.Profiles[0].Files {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("profile file %s missing or empty: %v", f, err)
		}
	}

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("JSON report not written: %v", err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("JSON report does not decode: %v", err)
	}
	if _, err := readReport(out); err != nil {
		t.Error(err)
	}
	if len(back.Functions) != 3 || back.Connect == nil || len(back.Publish) != 4 || back.Date == "" {
		t.Errorf("JSON report incomplete: %d functions, connect %v, %d publish kinds", len(back.Functions), back.Connect != nil, len(back.Publish))
	}
}

func TestSequentialRoundTrips(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(a, b int) threadsCall {
		return threadsCall{Start: t0.Add(time.Duration(a) * time.Millisecond), End: t0.Add(time.Duration(b) * time.Millisecond)}
	}
	for _, tc := range []struct {
		calls []threadsCall
		n     int
		wait  time.Duration
	}{
		{nil, 0, 0},
		{[]threadsCall{at(0, 50)}, 1, 50 * time.Millisecond},
		// The code exchange, then the long-lived exchange and the profile at once.
		{[]threadsCall{at(0, 50), at(52, 102), at(53, 101)}, 2, 100 * time.Millisecond},
		{[]threadsCall{at(60, 80), at(0, 50), at(10, 70)}, 1, 80 * time.Millisecond},
		{[]threadsCall{at(0, 10), at(10, 20), at(20, 30)}, 3, 30 * time.Millisecond},
	} {
		n, wait := sequentialRoundTrips(tc.calls)
		if n != tc.n || wait != tc.wait {
			t.Errorf("sequentialRoundTrips(%v) = %d, %s; want %d, %s", tc.calls, n, wait, tc.n, tc.wait)
		}
	}
}

func TestStatAndPercentile(t *testing.T) {
	if s := statOf([]float64{3, 1, 2, 10}); s.Median != 2.5 || s.Min != 1 || s.Max != 10 || s.N != 4 {
		t.Errorf("statOf = %+v", s)
	}
	lat := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(lat, 50); p != 5 {
		t.Errorf("p50 = %d", p)
	}
	if p := percentile(lat, 99); p != 10 {
		t.Errorf("p99 = %d", p)
	}
}
