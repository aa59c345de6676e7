package jws

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock for the KeySet's cache.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestKeySetCacheTiming(t *testing.T) {
	t.Parallel()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=600, must-revalidate")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{PublicJWK("k1", &priv.PublicKey)}})
	}))
	t.Cleanup(srv.Close)

	clock := &fakeClock{now: time.Now()}
	ks := NewKeySet(srv.URL, JWKS, nil)
	ks.now = clock.Now

	token := func(kid string) string {
		now := clock.Now()
		tok, err := SignRS256(priv, map[string]any{"alg": "RS256", "kid": kid},
			map[string]any{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	verify := func(kid string) error {
		var claims map[string]any
		return ks.Verify(t.Context(), token(kid), &claims)
	}

	steps := []struct {
		name        string
		advance     time.Duration
		kid         string
		want        error
		wantFetches int32
	}{
		{"first use", 0, "k1", nil, 1},
		{"unknown kid refetches", time.Second, "k9", ErrInvalidToken, 2},
		{"unknown kid again within a minute", 30 * time.Second, "k9", ErrInvalidToken, 2},
		{"unknown kid after a minute refetches", 31 * time.Second, "k9", ErrInvalidToken, 3},
		{"fresh until max-age", 8 * time.Minute, "k1", nil, 3},
		{"stale after max-age refetches", 2 * time.Minute, "k1", nil, 4},
		{"fresh again", 5 * time.Minute, "k1", nil, 4},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		err := verify(s.kid)
		if (s.want == nil && err != nil) || !errors.Is(err, s.want) {
			t.Fatalf("step %d (%s): Verify = %v, want %v", i, s.name, err, s.want)
		}
		if got := fetches.Load(); got != s.wantFetches {
			t.Fatalf("step %d (%s): %d fetches, want %d", i, s.name, got, s.wantFetches)
		}
	}
}

// TestKeySetFailedRefetch: Google rotates keys and the refetch for the new
// kid fails (network blip, 5xx). Until a fetch succeeds, an unknown kid is
// "keys unavailable" (503), not an invalid token (401), and refetches stay at
// once a minute whatever kids callers send.
func TestKeySetFailedRefetch(t *testing.T) {
	t.Parallel()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		name        string
		advance     time.Duration
		serve       []string // kids the key server publishes; nil: it answers 503
		kid         string
		want        error
		wantFetches int32
	}
	tests := []struct {
		name   string
		maxAge int // seconds, the key server's Cache-Control max-age
		steps  []step
	}{
		{"refetch fails during a rotation", 600, []step{
			{"first use", 0, []string{"k1"}, "k1", nil, 1},
			{"rotated kid, refetch fails", time.Second, nil, "k2", ErrKeysUnavailable, 2},
			{"rotated kid again within a minute", 30 * time.Second, nil, "k2", ErrKeysUnavailable, 2},
			{"made-up kid within a minute does not refetch", 0, nil, "k9", ErrKeysUnavailable, 2},
			{"cached kid still verifies", 0, nil, "k1", nil, 2},
			{"rotated kid after a minute refetches", 31 * time.Second, []string{"k1", "k2"}, "k2", nil, 3},
			{"made-up kid after a successful refetch", time.Second, []string{"k1", "k2"}, "k9", ErrInvalidToken, 3},
			{"made-up kid after a minute, refetch fails", time.Minute, nil, "k9", ErrKeysUnavailable, 4},
			{"made-up kid again does not refetch", time.Second, nil, "k9", ErrKeysUnavailable, 4},
		}},
		{"stale fetch succeeds after a failed refetch", 60, []step{
			{"first use", 0, []string{"k1"}, "k1", nil, 1},
			{"unknown kid, refetch fails", 30 * time.Second, nil, "k9", ErrKeysUnavailable, 2},
			{"stale after max-age refetches", 31 * time.Second, []string{"k1"}, "k1", nil, 3},
			{"unknown kid within a minute is invalid again", time.Second, []string{"k1"}, "k9", ErrInvalidToken, 3},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu      sync.Mutex
				serve   []string
				fetches atomic.Int32
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fetches.Add(1)
				mu.Lock()
				kids := serve
				mu.Unlock()
				if kids == nil {
					http.Error(w, "unavailable", http.StatusServiceUnavailable)
					return
				}
				var keys []map[string]string
				for _, kid := range kids {
					keys = append(keys, PublicJWK(kid, &priv.PublicKey))
				}
				w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(tc.maxAge))
				_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
			}))
			t.Cleanup(srv.Close)

			clock := &fakeClock{now: time.Now()}
			ks := NewKeySet(srv.URL, JWKS, nil)
			ks.now = clock.Now
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				mu.Lock()
				serve = s.serve
				mu.Unlock()
				tok, err := SignRS256(priv, map[string]any{"alg": "RS256", "kid": s.kid}, map[string]any{"sub": "s"})
				if err != nil {
					t.Fatal(err)
				}
				var claims map[string]any
				err = ks.Verify(t.Context(), tok, &claims)
				if (s.want == nil && err != nil) || !errors.Is(err, s.want) {
					t.Fatalf("step %d (%s): Verify = %v, want %v", i, s.name, err, s.want)
				}
				if s.want == ErrKeysUnavailable && errors.Is(err, ErrInvalidToken) {
					t.Fatalf("step %d (%s): Verify = %v, wraps ErrInvalidToken too", i, s.name, err)
				}
				if got := fetches.Load(); got != s.wantFetches {
					t.Fatalf("step %d (%s): %d fetches, want %d", i, s.name, got, s.wantFetches)
				}
			}
		})
	}
}

func TestKeysMaxAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cacheControl, age string
		want              time.Duration
	}{
		{"", "", time.Hour},
		{"public, max-age=21935, must-revalidate, no-transform", "", 21935 * time.Second},
		{"public, max-age=21935", "935", 21000 * time.Second},
		{"max-age=5", "", time.Minute},
		{"no-cache", "", time.Hour},
		{"max-age=999999999999", "", 24 * time.Hour},
		{"max-age=abc", "", time.Hour},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.cacheControl != "" {
			h.Set("Cache-Control", tc.cacheControl)
		}
		if tc.age != "" {
			h.Set("Age", tc.age)
		}
		if got := keysMaxAge(h); got != tc.want {
			t.Errorf("keysMaxAge(Cache-Control %q, Age %q) = %v, want %v", tc.cacheControl, tc.age, got, tc.want)
		}
	}
}
