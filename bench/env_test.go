package main

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeployedEnv: the functions run with the Go runtime's settings of the
// deployment, their configuration intact, and -env over both.
func TestDeployedEnv(t *testing.T) {
	conf := map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-x", "THREADS_APP_ID": "1"}
	cases := []struct {
		name  string
		extra []string
		want  map[string]string
	}{
		{"as deployed", nil,
			map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-x", "THREADS_APP_ID": "1", "GOMAXPROCS": "1"}},
		{"-env overrides the runtime setting", []string{"GOMAXPROCS=2"},
			map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-x", "THREADS_APP_ID": "1", "GOMAXPROCS": "2"}},
		{"-env adds and overrides configuration", []string{"GOGC=200", "THREADS_APP_ID=2", "EMPTY="},
			map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-x", "THREADS_APP_ID": "2", "GOMAXPROCS": "1", "GOGC": "200", "EMPTY": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := maps.Clone(conf)
			got := deployedEnv(conf, tc.extra)
			if !maps.Equal(got, tc.want) {
				t.Errorf("deployedEnv = %v, want %v", got, tc.want)
			}
			if !maps.Equal(conf, before) {
				t.Errorf("deployedEnv changed its argument: %v", conf)
			}
		})
	}
	if got, want := runtimeEnvList(), []string{"GOMAXPROCS=1"}; len(got) != len(want) || got[0] != want[0] {
		t.Errorf("runtimeEnvList = %q, want %q", got, want)
	}
}

// TestStillWarming: the warm-up runs three loads, then goes on while a load
// is over 10 % faster than the one before it or the JVM's JIT compilers used
// over 5 % of a core during it.
func TestStillWarming(t *testing.T) {
	rps := func(xs ...float64) []warmLoad {
		out := make([]warmLoad, len(xs))
		for i, x := range xs {
			out[i] = warmLoad{RPS: x, Elapsed: 4 * time.Second}
		}
		return out
	}
	short := func(loads []warmLoad) []warmLoad {
		loads[len(loads)-1].Elapsed = jitWindow - time.Millisecond
		return loads
	}
	jit := func(loads []warmLoad, cores float64) []warmLoad {
		loads[len(loads)-1].JITCores = cores
		return loads
	}
	cases := []struct {
		loads []warmLoad
		want  bool
	}{
		{nil, true},
		{rps(300), true},
		{rps(340, 358), true},
		{rps(600, 450), true},
		{rps(300, 540, 590), false},
		{rps(300, 500, 550), false},
		{rps(300, 500, 551), true},
		{rps(300, 600, 450), false},
		{rps(300, 450, 600, 610), false},
		{jit(rps(300, 540, 590), 0.05), false},
		{jit(rps(300, 540, 590), 0.06), true},
		{jit(rps(300, 540, 590), 0.61), true},
		{jit(rps(300, 540, 590, 600), 0.01), false},
		{jit(rps(300, 540), 0), true},
		// Over a load shorter than jitWindow a single 10 ms tick reads as
		// a busy compiler: only the throughput decides.
		{short(jit(rps(300, 540, 590), 0.61)), false},
		{short(jit(rps(300, 500, 551), 0.61)), true},
	}
	for _, tc := range cases {
		if got := stillWarming(tc.loads); got != tc.want {
			t.Errorf("stillWarming(%+v) = %v, want %v", tc.loads, got, tc.want)
		}
	}
	if got, want := fmtWarmup(rps(294.4, 539.6)), "294 → 540 req/s"; got != want {
		t.Errorf("fmtWarmup = %q, want %q", got, want)
	}
	if got, want := fmtWarmup(jit(rps(294.4, 539.6), 0.014)), "294 → 540 req/s, JIT 0.00 → 0.01 cores"; got != want {
		t.Errorf("fmtWarmup = %q, want %q", got, want)
	}
	if got, want := fmtRates([]float64{294.4, 539.6}), "294 → 540"; got != want {
		t.Errorf("fmtRates = %q, want %q", got, want)
	}
}

// TestFunctionsFlag: -functions picks the measured functions and their
// order, and with -profile the profiled ones unless -profile-functions
// names them; unknown or repeated names are refused.
func TestFunctionsFlag(t *testing.T) {
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
	t.Setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:2")
	t.Setenv("GOOGLE_CLOUD_PROJECT", "demo-flags")
	cases := []struct {
		args         []string
		want         []string
		wantProfiled []string
		wantErr      string
	}{
		{nil, []string{nameAuthStart, nameAuthCallback, namePublish}, nil, ""},
		{[]string{"-functions", "thPublish"}, []string{namePublish}, nil, ""},
		{[]string{"-functions", " thPublish, thAuthStart "}, []string{namePublish, nameAuthStart}, nil, ""},
		{[]string{"-functions", "thPublish,thNope"}, nil, nil, `unknown function "thNope"`},
		{[]string{"-functions", "thPublish,thPublish"}, nil, nil, "thPublish named twice"},
		// Profiles follow the measured functions unless named.
		{[]string{"-profile", "p"}, []string{nameAuthStart, nameAuthCallback, namePublish}, []string{nameAuthStart, nameAuthCallback, namePublish}, ""},
		{[]string{"-profile", "p", "-functions", "thPublish"}, []string{namePublish}, []string{namePublish}, ""},
		{[]string{"-profile", "p", "-functions", "thPublish", "-profile-functions", "thAuthStart"}, []string{namePublish}, []string{nameAuthStart}, ""},
		{[]string{"-profile", "p", "-profile-functions", "thNope"}, nil, nil, `-profile-functions: unknown function "thNope"`},
	}
	for _, tc := range cases {
		cfg, err := parseFlags(tc.args)
		if err != nil {
			t.Fatalf("parseFlags(%q): %v", tc.args, err)
		}
		err = cfg.validate()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: validate = %v, want an error with %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: validate = %v", tc.args, err)
		}
		if got := cfg.measured(); !slices.Equal(got, tc.want) {
			t.Errorf("%q: measured = %q, want %q", tc.args, got, tc.want)
		}
		if !slices.Equal(cfg.ProfileFunctions, tc.wantProfiled) {
			t.Errorf("%q: profiled = %q, want %q", tc.args, cfg.ProfileFunctions, tc.wantProfiled)
		}
	}
}
