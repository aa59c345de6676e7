// Package testenv gives tests the official emulators that the test command
// starts: the Firestore emulator and the Firebase Auth emulator.
//
// A test that needs an emulator calls Require. When the emulator's
// variable is unset the test is skipped, unless THREADSFN_REQUIRE_EMULATORS=1
// (set by ./scripts/test and CI), where it fails: a suite that silently
// skipped its integration tests would report success it did not earn.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/tokencrypt"
)

// DefaultProject is the demo project the test command starts the emulators with.
const DefaultProject = "demo-threadsfn"

// Env describes the running emulators.
type Env struct {
	ProjectID     string
	FirestoreHost string
	AuthHost      string
}

// Require returns the emulators' addresses, skipping or failing the test
// when they are not configured.
func Require(t testing.TB) Env {
	t.Helper()
	e := Env{
		ProjectID:     os.Getenv("GOOGLE_CLOUD_PROJECT"),
		FirestoreHost: os.Getenv("FIRESTORE_EMULATOR_HOST"),
		AuthHost:      os.Getenv("FIREBASE_AUTH_EMULATOR_HOST"),
	}
	if e.ProjectID == "" {
		e.ProjectID = DefaultProject
	}
	if e.FirestoreHost == "" || e.AuthHost == "" {
		msg := "FIRESTORE_EMULATOR_HOST and FIREBASE_AUTH_EMULATOR_HOST must point at the emulators (./scripts/test starts them)"
		if os.Getenv("THREADSFN_REQUIRE_EMULATORS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return e
}

// Firestore returns a client of the Firestore emulator, closed at cleanup.
func (e Env) Firestore(t testing.TB) *firestore.Client {
	t.Helper()
	c, err := firestore.NewClient(context.Background(), e.ProjectID, option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("firestore client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// User is a user created in the Auth emulator.
type User struct {
	UID     string
	Email   string
	IDToken string
}

// SignUp creates a fresh user in the Auth emulator and returns its ID token.
func (e Env) SignUp(t testing.TB) User {
	t.Helper()
	email := "user-" + RandomID(t) + "@example.com"
	var out struct {
		IDToken string `json:"idToken"`
		LocalID string `json:"localId"`
	}
	// Signed up as a client would (no admin credential), so the answer carries an ID token.
	e.authCall(t, false, "/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key",
		map[string]any{"email": email, "password": "password-1234", "returnSecureToken": true}, &out)
	if out.IDToken == "" || out.LocalID == "" {
		t.Fatal("auth emulator signUp returned no token")
	}
	return User{UID: out.LocalID, Email: email, IDToken: out.IDToken}
}

// UpdateUser changes a user through the emulator's admin API
// (accounts:update), e.g. {"disableUser": true} or {"validSince": "<unix>"}.
func (e Env) UpdateUser(t testing.TB, uid string, fields map[string]any) {
	t.Helper()
	body := map[string]any{"localId": uid}
	for k, v := range fields {
		body[k] = v
	}
	e.authCall(t, true, "/identitytoolkit.googleapis.com/v1/projects/"+e.ProjectID+"/accounts:update", body, nil)
}

// DeleteUser removes a user from the emulator.
func (e Env) DeleteUser(t testing.TB, uid string) {
	t.Helper()
	e.authCall(t, true, "/identitytoolkit.googleapis.com/v1/projects/"+e.ProjectID+"/accounts:delete",
		map[string]any{"localId": uid}, nil)
}

func (e Env) authCall(t testing.TB, admin bool, path string, body, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+e.AuthHost+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if admin {
		req.Header.Set("Authorization", "Bearer owner") // the emulator's admin credential
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("auth emulator %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		t.Fatalf("auth emulator %s: HTTP %d: %s", path, resp.StatusCode, buf.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("auth emulator %s: %v", path, err)
		}
	}
}

// EmulatorIDToken builds an unsigned ID token for uid, as the Auth emulator
// issues them (shared/auth, like the Admin SDK, takes them unsigned in
// emulator mode but checks every claim), with the given issue and expiry
// times: a way to test expired tokens and revocation without waiting.
func (e Env) EmulatorIDToken(uid string, issuedAt, expiresAt time.Time) string {
	tok, err := auth.EmulatorIDToken(e.ProjectID, uid, issuedAt, expiresAt)
	if err != nil {
		panic(err) // the claims are always JSON
	}
	return tok
}

// RandomID returns 16 random hex characters, for ids that do not collide
// between tests sharing an emulator.
func RandomID(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// String implements fmt.Stringer for failure messages.
func (e Env) String() string {
	return fmt.Sprintf("project %s, firestore %s, auth %s", e.ProjectID, e.FirestoreHost, e.AuthHost)
}

// Keyring returns a fresh token keyring with one key under id, and its text
// form (what TOKEN_ENCRYPTION_KEY holds).
func Keyring(t testing.TB, id string) (*tokencrypt.Keyring, string) {
	t.Helper()
	text, err := tokencrypt.GenerateKeyText(id)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tokencrypt.ParseKeyring(text)
	if err != nil {
		t.Fatal(err)
	}
	return k, text
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers, for capturing
// logs in tests.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lookup is the configuration of a function under test: the emulators'
// settings (project, Firestore, Auth) plus the function's own.
func (e Env) Lookup(settings map[string]string) config.Lookuper {
	m := map[string]string{
		"GOOGLE_CLOUD_PROJECT":        e.ProjectID,
		"FIRESTORE_EMULATOR_HOST":     e.FirestoreHost,
		"FIREBASE_AUTH_EMULATOR_HOST": e.AuthHost,
	}
	for k, v := range settings {
		m[k] = v
	}
	return config.MapLookuper(m)
}
