package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads/threadstest"
)

// Return-to settings the functions are configured with.
const (
	appOrigin   = "http://localhost:5173"
	returnTo    = appOrigin + "/connected"
	defaultBack = appOrigin + "/"
)

// emulators are the running Firestore and Auth emulators.
type emulators struct {
	Project, FirestoreHost, AuthHost string
}

// user is a user of the Auth emulator, with an ID token (valid for an
// hour) and, for publishing, a connected Threads account.
type user struct {
	UID, IDToken string
	ThreadsID    string
}

// threadsIDs hands out distinct Threads user ids.
type threadsIDs struct{ n atomic.Int64 }

func (t *threadsIDs) next() string {
	return strconv.FormatInt(17841600000000000+t.n.Add(1), 10)
}

// connectAccounts gives each user a connected Threads account, stored as
// thAuthCallback stores it (token sealed with the functions' keyring), with
// a token the fake knows and recently issued (so no refresh happens).
func connectAccounts(ctx context.Context, st *store.Store, fake *fakeThreads, ids *threadsIDs, users []user) error {
	now := time.Now().UTC()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range users {
		tid := ids.next()
		users[i].ThreadsID = tid
		u := users[i]
		g.Go(func() error {
			tok := fake.AddAccount(threadsUser(tid))
			const expiresIn = 60 * 24 * 3600
			return st.SaveAccount(gctx, u.UID, store.Account{
				AccountID: tid, TokenType: "bearer", ExpiresIn: expiresIn,
				ExpiresAt:     now.Add(expiresIn * time.Second),
				TokenIssuedAt: now, UpdatedAt: now,
				Profile: store.Profile{PlatformID: tid, DisplayName: "Bench", Username: "bench", AccountType: "user"},
				Extra:   store.Extra{ThreadsUserID: tid},
				Status:  store.StatusActive,
			}, tok)
		})
	}
	return g.Wait()
}

// callbackInput is what Threads' redirect to thAuthCallback carries.
type callbackInput struct{ State, Code string }

// prepareCallbacks stores n fresh OAuth states (as thAuthStart would, for
// random users) and issues a code for a new Threads user for each.
func prepareCallbacks(ctx context.Context, st *store.Store, fake *fakeThreads, ids *threadsIDs, n int) ([]callbackInput, error) {
	out := make([]callbackInput, n)
	now := time.Now().UTC()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range out {
		g.Go(func() error {
			state := randomHex(32)
			if err := st.CreateState(gctx, state, store.OAuthState{
				UID: "bench-" + randomHex(10), Provider: store.Provider, ReturnTo: returnTo,
				CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			}); err != nil {
				return err
			}
			tid := ids.next()
			code := fake.IssueCode(threadsUser(tid))
			out[i] = callbackInput{State: state, Code: code}
			return nil
		})
	}
	return out, g.Wait()
}

// threadsUser is the fake Threads user with id tid.
func threadsUser(tid string) threadstest.User {
	return threadstest.User{ID: tid, Username: "user" + tid[len(tid)-6:], Name: "Bench " + tid[len(tid)-4:]}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
