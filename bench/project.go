package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/store"
)

// A project of the emulators that one measurement has to itself: every
// warm-up, round, profile and count runs its function in a new project
// (GOOGLE_CLOUD_PROJECT), with users in the Auth emulator and fixtures in
// the Firestore emulator made for it, and drops it afterwards.
//
// Why: the Firestore emulator answers every query by copying its whole
// history of the project's documents (each version ever written, deleted
// ones and those its reset endpoint removed included), so the cost of
// thPublish's one query (the user's accounts) grew with every document
// written before it: 0.14 ms of emulator CPU in a new project, 19-32 ms in
// the benchmark's project after two runs, which is what made thPublish's
// loads run at 40-60 req/s with both cores busy in the emulator. Firestore
// answers a query from an index; a new project is the emulator's closest
// stand-in. Gets and writes are not affected (docs/performance.md, finding 8).
type project struct {
	ID    string
	fs    *firestore.Client
	store *store.Store
	// starters are users who call thAuthStart; publishers each have a
	// connected Threads account (fixtures).
	starters, publishers []user
}

// newProject makes the next project: its Firestore client, starters and
// publishers users in the Auth emulator with ID tokens, and the
// publishers' connected accounts.
func (b *bench) newProject(ctx context.Context, starters, publishers int) (_ *project, err error) {
	id := fmt.Sprintf("%s-%s-%d", b.cfg.Emulators.Project, b.runID, b.projects.Add(1))
	fs, err := store.NewFirestore(ctx, id, b.cfg.Emulators.FirestoreHost)
	if err != nil {
		return nil, err
	}
	p := &project{ID: id, fs: fs, store: store.New(fs, b.keyring)}
	defer func() {
		if err != nil {
			b.dropProject(p)
		}
	}()
	// A project's first request costs the Firestore emulator some 25 ms
	// more than later ones (it sets the project up): made here, so that no
	// function's cold start pays it. (The Auth emulator's is made by
	// createUsers.)
	if _, err := fs.Doc("bench/none").Get(ctx); status.Code(err) != codes.NotFound {
		return nil, fmt.Errorf("project %s: first read: %w", id, err)
	}
	users, err := createUsers(ctx, b.hc, b.cfg.Emulators.AuthHost, id, starters+publishers)
	if err != nil {
		return nil, err
	}
	p.starters, p.publishers = users[:starters], users[starters:]
	if err := connectAccounts(ctx, p.store, b.fake, &b.ids, p.publishers); err != nil {
		return nil, fmt.Errorf("project %s: fixtures: %w", id, err)
	}
	return p, nil
}

// projectFor makes a project with the users a load of the function needs
// (one per concurrent client) and returns it with the load's workload there.
func (b *bench) projectFor(ctx context.Context, name string) (*project, workload, error) {
	var starters, publishers int
	switch name {
	case nameAuthStart:
		starters = b.cfg.Concurrency
	case namePublish:
		publishers = b.cfg.Concurrency
	}
	p, err := b.newProject(ctx, starters, publishers)
	if err != nil {
		return nil, workload{}, err
	}
	return p, b.workload(name, p), nil
}

// dropProject deletes the project's documents and users from the emulators
// (through their reset endpoints, freeing what the emulators can free) and
// closes its client. It runs after the measurement, so a failure is only
// logged.
func (b *bench) dropProject(p *project) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := resetEmulatorProject(ctx, b.hc, b.cfg.Emulators.FirestoreHost, p.ID); err != nil {
		fmt.Fprintf(b.log, "  dropping project %s: %v\n", p.ID, err)
	}
	if err := deleteEmulatorUsers(ctx, b.hc, b.cfg.Emulators.AuthHost, p.ID); err != nil {
		fmt.Fprintf(b.log, "  dropping project %s: %v\n", p.ID, err)
	}
	_ = p.fs.Close()
}

// createUsers creates n users in project of the Auth emulator (its admin
// accounts:batchCreate, as the Admin SDK's ImportUsers does) and gives each
// an ID token as the emulator issues them (auth.EmulatorIDToken): the
// emulator's client sign-in only serves its default project.
func createUsers(ctx context.Context, hc *http.Client, authHost, project string, n int) ([]user, error) {
	const perCall = 1000 // the API's limit per batchCreate
	users := make([]user, n)
	for from := 0; from < n; from += perCall {
		batch := users[from:min(n, from+perCall)]
		type newUser struct {
			LocalID string `json:"localId"`
			Email   string `json:"email"`
		}
		in := make([]newUser, len(batch))
		for i := range batch {
			batch[i].UID = "bench-" + randomHex(10)
			in[i] = newUser{LocalID: batch[i].UID, Email: batch[i].UID + "@example.com"}
		}
		body, err := json.Marshal(map[string]any{"users": in})
		if err != nil {
			return nil, err
		}
		u := "http://" + authHost + "/identitytoolkit.googleapis.com/v1/projects/" + url.PathEscape(project) + "/accounts:batchCreate"
		var out struct {
			Error []struct {
				Index   int    `json:"index"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := emulatorCall(ctx, hc, http.MethodPost, u, body, &out); err != nil {
			return nil, fmt.Errorf("create users: %w", err)
		}
		if len(out.Error) > 0 {
			return nil, fmt.Errorf("create users: %d refused, the first: %s", len(out.Error), out.Error[0].Message)
		}
	}
	// After the users exist: a token must not be older than its user's
	// validSince (the creation time, in seconds).
	now := time.Now()
	for i := range users {
		tok, err := auth.EmulatorIDToken(project, users[i].UID, now, now.Add(time.Hour))
		if err != nil {
			return nil, err
		}
		users[i].IDToken = tok
	}
	return users, nil
}

// resetEmulatorProject deletes every document of project's default database
// in the Firestore emulator at host (its documented reset endpoint); other
// projects' data stays. (The emulator's queries still walk the project's
// history afterwards: hence a new project per measurement, not a reset.)
func resetEmulatorProject(ctx context.Context, hc *http.Client, host, project string) error {
	u := "http://" + host + "/emulator/v1/projects/" + url.PathEscape(project) + "/databases/(default)/documents"
	if err := emulatorCall(ctx, hc, http.MethodDelete, u, nil, nil); err != nil {
		return fmt.Errorf("reset Firestore emulator: %w", err)
	}
	return nil
}

// deleteEmulatorUsers deletes every user of project in the Auth emulator at
// host (its documented endpoint); other projects' users stay.
func deleteEmulatorUsers(ctx context.Context, hc *http.Client, host, project string) error {
	u := "http://" + host + "/emulator/v1/projects/" + url.PathEscape(project) + "/accounts"
	if err := emulatorCall(ctx, hc, http.MethodDelete, u, nil, nil); err != nil {
		return fmt.Errorf("delete Auth emulator users: %w", err)
	}
	return nil
}

// emulatorCall sends an administrator's request to an emulator and decodes
// its JSON answer into out (if not nil).
func emulatorCall(ctx context.Context, hc *http.Client, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer owner")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %.300s", method, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: answer: %w", method, err)
		}
	}
	return nil
}
