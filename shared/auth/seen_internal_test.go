package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/jws"
)

// lookupBackend answers accounts:lookup for one user with the state set.
type lookupBackend struct {
	mu         sync.Mutex
	uid        string
	disabled   bool
	validSince int64
	lookups    int
}

func (b *lookupBackend) set(disabled bool, validSince int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.disabled, b.validSince = disabled, validSince
}

func (b *lookupBackend) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lookups++
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"users":[{"localId":%q,"disabled":%t,"validSince":"%d"}]}`, b.uid, b.disabled, b.validSince)
}

// A token seen before skips only its decoding and signature check: its
// times, the user's state and its revocation are checked on every request.
func TestSeenTokensAreStillChecked(t *testing.T) {
	const project, uid = "demo-seen", "u1"
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// after the first, successful check: move the clock, change the user
		after    func(b *lookupBackend) time.Time
		wantCode string
		// lookups in all: one per request, but none for an expired token
		wantLookups int
	}{
		{"same answer", func(*lookupBackend) time.Time { return t0.Add(time.Minute) }, "", 2},
		{"expired since", func(*lookupBackend) time.Time { return t0.Add(time.Hour + clockSkew + time.Second) }, CodeTokenExpired, 1},
		{"revoked since", func(b *lookupBackend) time.Time { b.set(false, t0.Unix()+1); return t0.Add(time.Minute) }, CodeTokenRevoked, 2},
		{"disabled since", func(b *lookupBackend) time.Time { b.set(true, 0); return t0.Add(time.Minute) }, CodeUserDisabled, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend := &lookupBackend{uid: uid}
			srv := httptest.NewServer(backend)
			t.Cleanup(srv.Close)
			f, err := NewFirebase(t.Context(), FirebaseConfig{ProjectID: project, EmulatorHost: srv.Listener.Addr().String()})
			if err != nil {
				t.Fatal(err)
			}
			now := t0
			f.now = func() time.Time { return now }
			tok, err := EmulatorIDToken(project, uid, t0, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			if _, err := f.Verify(t.Context(), r); err != nil {
				t.Fatalf("first check: %v", err)
			}
			if _, ok := f.seen.get(tokenKey(tok)); !ok {
				t.Fatal("a checked token is not remembered")
			}
			now = tc.after(backend)
			_, err = f.Verify(t.Context(), r)
			var he *httpx.Error
			switch {
			case tc.wantCode == "" && err != nil:
				t.Errorf("second check: %v", err)
			case tc.wantCode != "" && (!errors.As(err, &he) || he.Code != tc.wantCode):
				t.Errorf("second check: %v, want %s", err, tc.wantCode)
			}
			if backend.lookups != tc.wantLookups {
				t.Errorf("%d lookups, want %d", backend.lookups, tc.wantLookups)
			}
		})
	}
}

// A token seen before is not verified again; one not seen is, and one that
// fails is not remembered.
func TestSeenTokenSkipsVerification(t *testing.T) {
	const project = "demo-seen"
	backend := &lookupBackend{uid: "u1"}
	srv := httptest.NewServer(backend)
	t.Cleanup(srv.Close)
	f, err := NewFirebase(t.Context(), FirebaseConfig{ProjectID: project, EmulatorHost: srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	verify := func(tok string) error {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := f.Verify(t.Context(), r)
		return err
	}
	seen, _ := EmulatorIDToken(project, "u1", now, now.Add(time.Hour))
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := jws.SignRS256(key, map[string]any{"alg": "RS256", "kid": "k1"}, map[string]any{
		"iss": issuerPrefix + project, "aud": project, "sub": "u1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	wrongProject, _ := EmulatorIDToken("demo-other", "u1", now, now.Add(time.Hour))
	if err := verify(seen); err != nil {
		t.Fatal(err)
	}
	if err := verify(wrongProject); err == nil {
		t.Fatal("a token of another project passed")
	}
	if _, ok := f.seen.get(tokenKey(wrongProject)); ok {
		t.Error("a refused token is remembered")
	}
	// From now on every signature check fails as if Google's keys could not be read.
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	t.Cleanup(keys.Close)
	f.keys = jws.NewKeySet(keys.URL, jws.X509, nil)
	if err := verify(seen); err != nil {
		t.Errorf("the token seen before was verified again: %v", err)
	}
	if err := verify(other); err == nil || !strings.Contains(err.Error(), "could not verify") {
		t.Errorf("a token not seen before: %v, want its verification to fail", err)
	}
}

// The memory is bounded: when full, expired tokens go first, then all.
func TestSeenTokensBound(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	claims := func(exp time.Time) idClaims {
		d := jws.NumericDate(exp.Unix())
		return idClaims{Sub: "u", Exp: &d}
	}
	key := func(i int) [32]byte { return tokenKey(fmt.Sprint("token-", i)) }
	tests := []struct {
		name     string
		expired  int // of the maxSeenTokens remembered, how many have expired at t0
		wantLeft int // after one more is added
	}{
		{"none expired: all forgotten", 0, 1},
		{"some expired: only those", 10, maxSeenTokens - 10 + 1},
		{"all expired", maxSeenTokens, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s seenTokens
			for i := range maxSeenTokens {
				exp := t0.Add(time.Hour)
				if i < tc.expired {
					exp = t0.Add(-clockSkew - time.Second)
				}
				s.add(key(i), claims(exp), t0.Add(-time.Hour))
			}
			if len(s.m) != maxSeenTokens {
				t.Fatalf("%d remembered, want %d", len(s.m), maxSeenTokens)
			}
			s.add(key(-1), claims(t0.Add(time.Hour)), t0)
			if len(s.m) != tc.wantLeft {
				t.Errorf("%d left, want %d", len(s.m), tc.wantLeft)
			}
			if _, ok := s.get(key(-1)); !ok {
				t.Error("the token added last is not remembered")
			}
		})
	}
}
