package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

// TestNewProject: a new project's users exist in the Auth emulator with ID
// tokens the functions' verifier accepts (and another project's refuses),
// its publishers' accounts are in its Firestore project, each project has
// its own id, and dropping one removes its users and documents.
func TestNewProject(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	fake, err := startFakeThreads(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.close)
	keyring, _ := testenv.Keyring(t, "k1")
	b := &bench{
		cfg: Config{Emulators: emulators{Project: env.ProjectID, FirestoreHost: env.FirestoreHost, AuthHost: env.AuthHost}},
		log: t.Output(), hc: &http.Client{Timeout: 30 * time.Second}, fake: fake, keyring: keyring, runID: randomHex(3),
	}
	p, err := b.newProject(ctx, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.newProject(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.dropProject(other) })
	if !strings.HasPrefix(p.ID, env.ProjectID+"-") || other.ID == p.ID {
		t.Errorf("project ids %q and %q: want two, each %q-…", p.ID, other.ID, env.ProjectID)
	}
	if len(p.starters) != 2 || len(p.publishers) != 1 {
		t.Fatalf("%d starters and %d publishers, want 2 and 1", len(p.starters), len(p.publishers))
	}

	verifier := func(project string) *auth.Firebase {
		v, err := auth.NewFirebase(ctx, auth.FirebaseConfig{ProjectID: project, EmulatorHost: env.AuthHost})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	verify := func(v *auth.Firebase, u user) error {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
		req.Header.Set("Authorization", "Bearer "+u.IDToken)
		got, err := v.Verify(ctx, req)
		if err == nil && got.UID != u.UID {
			return fmt.Errorf("verified as %q, want %q", got.UID, u.UID)
		}
		return err
	}
	own, others := verifier(p.ID), verifier(other.ID)
	for _, u := range append(slices.Clone(p.starters), p.publishers...) {
		if err := verify(own, u); err != nil {
			t.Errorf("user %s: own project's verifier: %v", u.UID, err)
		}
		if err := verify(others, u); err == nil {
			t.Errorf("user %s: another project's verifier accepted the token", u.UID)
		}
	}
	pub := p.publishers[0]
	accounts, err := p.store.ListAccounts(ctx, pub.UID)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 1 || pub.ThreadsID == "" || accounts[0].AccountID != pub.ThreadsID {
		t.Fatalf("publisher's accounts = %+v, want one, %q", accounts, pub.ThreadsID)
	}

	b.dropProject(p)
	var he *httpx.Error
	if err := verify(own, pub); !errors.As(err, &he) || he.Code != auth.CodeInvalidToken {
		t.Errorf("after the drop, the publisher's token: %v, want %s (no such user)", err, auth.CodeInvalidToken)
	}
	fs := testenv.Env{ProjectID: p.ID, FirestoreHost: env.FirestoreHost, AuthHost: env.AuthHost}.Firestore(t)
	if _, err := fs.Doc(store.AccountPath(pub.UID, pub.ThreadsID)).Get(ctx); status.Code(err) != codes.NotFound {
		t.Errorf("after the drop, the publisher's account: %v, want NotFound", err)
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
