package config

import (
	"reflect"
	"sort"
	"strings"
)

// PlaintextSecretEnvNames are the variables that carry a secret's value
// itself. They exist for local runs; a deployment sets the matching *_NAME
// variable (a Secret Manager version) instead, so no secret value ever
// appears in a function's configuration or in deployment state.
var PlaintextSecretEnvNames = []string{"THREADS_APP_SECRET", "TOKEN_ENCRYPTION_KEY"}

// EnvNames returns, sorted, every environment variable Load reads (the
// TASKS_* variables of the tasks package included). It is found by running
// Load with every need set and recording each lookup, so it cannot drift
// from Load itself.
func EnvNames() []string {
	seen := map[string]bool{}
	record := func(name string) (string, bool) {
		seen[name] = true
		return "", false
	}
	_, _ = Load(record, allNeeds()) // the configuration is invalid on purpose: only the lookups matter
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LocalOnlyEnvNames returns, sorted, the variables a deployment must never
// set: the plaintext secrets and every *_EMULATOR_HOST (which point the
// functions at local emulators and stand-ins).
func LocalOnlyEnvNames() []string {
	out := append([]string(nil), PlaintextSecretEnvNames...)
	for _, n := range EnvNames() {
		if strings.HasSuffix(n, "_EMULATOR_HOST") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// allNeeds returns a Needs with every field set, so that lookups made only
// for some needs are recorded too.
func allNeeds() Needs {
	var n Needs
	v := reflect.ValueOf(&n).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Bool && f.CanSet() {
			f.SetBool(true)
		}
	}
	return n
}

// DeployedRuntimeEnv returns the Go runtime's settings every function is
// deployed with. terraform/ sets them (local.go_runtime_env), deploycheck
// checks that each function has exactly these values, and the benchmark runs
// the functions with them, so all three agree.
//
// GOMAXPROCS=1: a 128 MiB instance has 0.083 vCPU and serves one request at a
// time. Go's default is the CPU count the instance shows, never below 2 under
// a cgroup CPU limit; a second scheduler thread there only hands goroutines
// between threads and spins looking for work, on a quota that cannot run two
// threads at once anyway.
// Measured in docs/performance.md (finding 7): about a fifth less CPU per
// thAuthStart request.
func DeployedRuntimeEnv() map[string]string {
	return map[string]string{"GOMAXPROCS": "1"}
}
