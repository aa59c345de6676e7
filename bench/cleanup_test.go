package main

import (
	"net/http"
	"testing"
	"time"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

// TestClearLoadDocs: only the benchmark's own states, jobs and made-up
// accounts go; the fixtures and anybody else's documents stay.
func TestClearLoadDocs(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	fs := env.Firestore(t)
	keyring, _ := testenv.Keyring(t, "k1")
	st := store.New(fs, keyring)
	id := testenv.RandomID(t)
	own, madeUp, stranger := "own-"+id, "bench-"+id, "stranger-"+id
	b := &bench{fs: fs, users: map[string]bool{own: true}}

	now := time.Now().UTC()
	for _, uid := range []string{own, madeUp, stranger} {
		if err := st.CreateState(ctx, "state-"+uid, store.OAuthState{UID: uid, Provider: store.Provider, ReturnTo: "https://app.example/", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveAccount(ctx, uid, store.Account{AccountID: "1784" + id[:8], Status: store.StatusActive, ExpiresAt: now.Add(time.Hour)}, "FAKE-TOKEN"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.CreateJob(ctx, &store.Job{JobID: "job-" + uid, UID: uid, AccountID: "1784" + id[:8], Status: store.JobAccepted, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.clearLoadDocs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Errorf("deleted %d documents, want at least 5", n)
	}
	exists := func(path string) bool {
		_, err := fs.Doc(path).Get(ctx)
		return err == nil
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"oauthStates/state-" + own, false},
		{"oauthStates/state-" + madeUp, false},
		{"oauthStates/state-" + stranger, true},
		{store.AccountPath(own, "1784"+id[:8]), true}, // a fixture
		{store.AccountPath(madeUp, "1784"+id[:8]), false},
		{store.AccountPath(stranger, "1784"+id[:8]), true},
		{store.JobPath(own, "1784"+id[:8], "job-"+own), false},
		{store.JobPath(madeUp, "1784"+id[:8], "job-"+madeUp), false},
		{store.JobPath(stranger, "1784"+id[:8], "job-"+stranger), true},
	} {
		if got := exists(tc.path); got != tc.want {
			t.Errorf("%s exists = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestResetEmulatorProject: the reset empties the project it names, in the
// real emulator, and leaves other projects' documents alone.
func TestResetEmulatorProject(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	id := testenv.RandomID(t)
	reset, other := env, env
	reset.ProjectID, other.ProjectID = "demo-bench-reset-"+id[:8], "demo-bench-keep-"+id[:8]
	for _, e := range []testenv.Env{reset, other} {
		if _, err := e.Firestore(t).Doc("oauthStates/s-"+id).Set(ctx, map[string]any{"uid": "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := resetEmulatorProject(ctx, &http.Client{Timeout: 30 * time.Second}, env.FirestoreHost, reset.ProjectID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		e    testenv.Env
		want bool
	}{{reset, false}, {other, true}} {
		_, err := tc.e.Firestore(t).Doc("oauthStates/s-" + id).Get(ctx)
		if got := err == nil; got != tc.want {
			t.Errorf("project %s: document exists = %v (err %v), want %v", tc.e.ProjectID, got, err, tc.want)
		}
	}
	if err := resetEmulatorProject(ctx, &http.Client{Timeout: 30 * time.Second}, "127.0.0.1:9", reset.ProjectID); err == nil {
		t.Error("reset through a closed port: no error")
	}
}
