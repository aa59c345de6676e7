package store_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/tokencrypt"
)

func newKeyring(t *testing.T, id string) *tokencrypt.Keyring {
	k, _ := testenv.Keyring(t, id)
	return k
}

func newStore(t *testing.T) (*store.Store, testenv.Env) {
	env := testenv.Require(t)
	return store.New(env.Firestore(t), newKeyring(t, "k1")), env
}

func TestStateConsumedOnce(t *testing.T) {
	s, env := newStore(t)
	ctx := t.Context()
	now := time.Now()
	id := "state-" + testenv.RandomID(t)
	want := store.OAuthState{UID: "u1", Provider: store.Provider, ReturnTo: "https://app.example.com/x",
		CreatedAt: now.UTC().Truncate(time.Microsecond), ExpiresAt: now.Add(10 * time.Minute).UTC().Truncate(time.Microsecond)}
	if err := s.CreateState(ctx, id, want); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateState(ctx, id, want); !errors.Is(err, store.ErrStateExists) {
		t.Fatalf("second CreateState = %v, want ErrStateExists", err)
	}

	// Many concurrent consumers: exactly one wins.
	const n = 12
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins []*store.OAuthState
		errs []error
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := s.ConsumeState(ctx, id, now)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins = append(wins, st)
			} else {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("%d consumers won, want exactly 1 (errors: %v)", len(wins), errs)
	}
	for _, err := range errs {
		if !errors.Is(err, store.ErrStateInvalid) {
			t.Errorf("loser error = %v, want ErrStateInvalid", err)
		}
	}
	if got := *wins[0]; got != want {
		t.Errorf("state = %+v, want %+v", got, want)
	}
	snap, err := env.Firestore(t).Collection("oauthStates").Doc(id).Get(ctx)
	if err == nil || snap.Exists() {
		t.Error("consumed state still stored")
	}
}

func TestStateRefused(t *testing.T) {
	s, env := newStore(t)
	ctx := t.Context()
	// Firestore keeps microseconds: a finer now would be stored earlier
	// than itself, and "expires exactly now" would test "expired".
	now := time.Now().UTC().Truncate(time.Microsecond)
	cases := []struct {
		name  string
		state *store.OAuthState
		at    time.Time
	}{
		{name: "unknown"},
		{name: "expired", state: &store.OAuthState{UID: "u", Provider: store.Provider, ExpiresAt: now.Add(-time.Second)}, at: now},
		{name: "expires exactly now", state: &store.OAuthState{UID: "u", Provider: store.Provider, ExpiresAt: now}, at: now},
		{name: "other provider", state: &store.OAuthState{UID: "u", Provider: "instagram", ExpiresAt: now.Add(time.Hour)}, at: now},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "state-" + testenv.RandomID(t)
			if tc.state != nil {
				if err := s.CreateState(ctx, id, *tc.state); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.ConsumeState(ctx, id, tc.at); !errors.Is(err, store.ErrStateInvalid) {
				t.Fatalf("ConsumeState = %v, want ErrStateInvalid", err)
			}
			// Refused states are gone too: a second try cannot succeed later.
			// Read directly: a second ConsumeState would be refused anyway
			// for another provider.
			if _, err := env.Firestore(t).Collection("oauthStates").Doc(id).Get(ctx); status.Code(err) != codes.NotFound {
				t.Errorf("reading the refused state: %v, want NotFound", err)
			}
		})
	}
	if _, err := s.ConsumeState(ctx, "", now); !errors.Is(err, store.ErrStateInvalid) {
		t.Errorf("empty id: %v", err)
	}
}

// An id that cannot be a state is refused as invalid without a Firestore
// call (Firestore would fail it with InvalidArgument, not NotFound); a
// well-formed unknown id is looked up and refused as unknown.
func TestStateIDChecked(t *testing.T) {
	env := testenv.Require(t)
	cases := []struct {
		name     string
		id       string
		wellForm bool // looked up in Firestore
	}{
		{name: "empty", id: ""},
		{name: "invalid UTF-8", id: "\xff"},
		{name: "dot", id: "."},
		{name: "dot dot", id: ".."},
		{name: "slash", id: "a/b"},
		{name: "reserved", id: "__x__"},
		{name: "reserved, empty middle", id: "____"},
		{name: "dot inside", id: "a.b"},
		{name: "space", id: "a b"},
		{name: "non-ASCII letter", id: "st-\u00e4"},
		{name: "too long", id: strings.Repeat("a", 257)},
		{name: "hex with prefix", id: "st-" + testenv.RandomID(t), wellForm: true},
		{name: "base64url", id: "_-Az09" + testenv.RandomID(t), wellForm: true},
		{name: "three underscores", id: "___", wellForm: true},
		{name: "leading underscores only", id: "__x", wellForm: true},
		{name: "longest", id: strings.Repeat("a", 256), wellForm: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, faults := env.FaultyFirestore(t)
			s := store.New(fs, nil)
			if _, err := s.ConsumeState(t.Context(), tc.id, time.Now()); !errors.Is(err, store.ErrStateInvalid) {
				t.Errorf("ConsumeState(%q) = %v, want ErrStateInvalid", tc.id, err)
			}
			want := 0
			if tc.wellForm {
				want = 1
			}
			if got := faults.Calls(testenv.RPCBatchGet); got != want {
				t.Errorf("ConsumeState(%q) read Firestore %d times, want %d", tc.id, got, want)
			}
		})
	}
}

func TestAccountTokenSealedAtRest(t *testing.T) {
	s, env := newStore(t)
	ctx := t.Context()
	uid := "uid-" + testenv.RandomID(t)
	acct := store.Account{AccountID: "17841400000000001", TokenType: "bearer", ExpiresIn: 5184000,
		ExpiresAt: time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Microsecond), UpdatedAt: time.Now().UTC().Truncate(time.Microsecond),
		Profile: store.Profile{PlatformID: "17841400000000001", DisplayName: "Ada", Username: "ada", AccountType: "user"},
		Extra:   store.Extra{ThreadsUserID: "17841400000000001"}, Status: store.StatusActive}
	const token = "LONG-LIVED-PLAINTEXT-TOKEN"
	if err := s.SaveAccount(ctx, uid, acct, token); err != nil {
		t.Fatal(err)
	}

	raw, err := env.Firestore(t).Doc(store.AccountPath(uid, acct.AccountID)).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range raw.Data() {
		if s, ok := v.(string); ok && strings.Contains(s, token) {
			t.Errorf("field %s holds the plaintext token", k)
		}
	}
	if raw.Data()["accessTokenKeyId"] != "k1" {
		t.Errorf("accessTokenKeyId = %v", raw.Data()["accessTokenKeyId"])
	}

	got, err := s.GetAccount(ctx, uid, acct.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := s.OpenToken(uid, got)
	if err != nil || plain != token {
		t.Fatalf("OpenToken = %q, %v", plain, err)
	}
	// The ciphertext is bound to its document: under another user it does not open.
	if _, err := s.OpenToken("someone-else", got); err == nil {
		t.Error("token opened under another user's path")
	}
	// Another keyring (a different key under the same id) cannot open it either.
	if _, err := store.New(env.Firestore(t), newKeyring(t, "k1")).OpenToken(uid, got); err == nil {
		t.Error("token opened with the wrong key")
	}

	// Reconnecting updates in place.
	acct.Profile.DisplayName = "Ada L."
	if err := s.SaveAccount(ctx, uid, acct, "NEW-TOKEN"); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetAccount(ctx, uid, acct.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := s.OpenToken(uid, got); plain != "NEW-TOKEN" || got.Profile.DisplayName != "Ada L." {
		t.Errorf("after reconnect: token %q, name %q", plain, got.Profile.DisplayName)
	}
	if _, err := s.GetAccount(ctx, uid, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount(unknown) = %v, want ErrNotFound", err)
	}
	if err := store.New(env.Firestore(t), nil).SaveAccount(ctx, uid, acct, token); !errors.Is(err, store.ErrNoKeyring) {
		t.Errorf("SaveAccount without keyring = %v", err)
	}
}

// TestUpdateJobWritesTheJobItNames: UpdateJob reuses the reference a job
// was created or read through, but only while the job's ids still name
// that document; a copy given another job's ids writes that other job.
func TestUpdateJobWritesTheJobItNames(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	uid, acct, now := "uid-"+testenv.RandomID(t), "17841400000000001", time.Now().UTC()
	newJob := func(id string) *store.Job {
		return createJob(t, s, &store.Job{JobID: id, UID: uid, AccountID: acct, Status: store.JobAccepted,
			Kind: "text", LeaseOwner: "owner-1", LeaseUntil: now.Add(time.Minute), Attempts: 1, CreatedAt: now, UpdatedAt: now})
	}
	a, b := newJob("job-a-"+testenv.RandomID(t)), newJob("job-b-"+testenv.RandomID(t))

	// Through the reference CreateJob kept.
	a.Status = store.JobPublishing
	if err := s.UpdateJob(ctx, a, "owner-1", now, false); err != nil {
		t.Fatalf("UpdateJob(a): %v", err)
	}
	// Through the reference GetJob read, on a copy carrying b's ids.
	read, err := s.GetJob(ctx, uid, acct, a.JobID)
	if err != nil {
		t.Fatal(err)
	}
	c := *read
	c.JobID, c.Version, c.Status = b.JobID, b.Version, store.JobFailed
	if err := s.UpdateJob(ctx, &c, "owner-1", now, false); err != nil {
		t.Fatalf("UpdateJob(copy with b's ids): %v", err)
	}

	for _, tc := range []struct {
		id   string
		want store.JobStatus
	}{{a.JobID, store.JobPublishing}, {b.JobID, store.JobFailed}} {
		got, err := s.GetJob(ctx, uid, acct, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tc.want {
			t.Errorf("job %s: status %q, want %q", tc.id, got.Status, tc.want)
		}
	}
}
