package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

func saveAccount(t *testing.T, s *store.Store, uid, accountID, threadsUserID string, issuedAt time.Time) {
	t.Helper()
	if err := s.SaveAccount(t.Context(), uid, store.Account{AccountID: accountID, ExpiresAt: issuedAt.Add(60 * 24 * time.Hour),
		TokenIssuedAt: issuedAt, UpdatedAt: issuedAt, Status: store.StatusActive, Extra: store.Extra{ThreadsUserID: threadsUserID}}, "TOKEN"); err != nil {
		t.Fatal(err)
	}
}

// createJob stores j under an account saved for it (CreateJob requires
// one), and returns it as stored.
func createJob(t *testing.T, s *store.Store, j *store.Job) *store.Job {
	t.Helper()
	saveAccount(t, s, j.UID, j.AccountID, j.AccountID, j.CreatedAt)
	got, created, err := s.CreateJob(t.Context(), j)
	if err != nil || !created {
		t.Fatalf("CreateJob: created %v, %v", created, err)
	}
	return got
}

func tombstonePath(uid, accountID string) string {
	return "users/" + uid + "/integrations/threads/disconnected/" + accountID
}

// TestDisconnectedAccountsFoundByThreadsUser: a data-deletion request must
// reach the accounts its Threads user disconnected before, whose account
// documents are gone: their tombstones record the Threads user id, and
// tombstones written before they did are found by their account id (which
// thAuthCallback makes the Threads user id).
func TestDisconnectedAccountsFoundByThreadsUser(t *testing.T) {
	s, env := newStoreAlone(t)
	ctx := t.Context()
	fs := env.Firestore(t)
	now := time.Now().UTC()
	const threadsID = "17841400000000101"

	type tomb struct{ uid, accountID string }
	for _, tc := range []struct {
		name string
		// setup leaves tombstones behind and returns those that belong to threadsID.
		setup func(t *testing.T) []tomb
	}{
		{"disconnected through Disconnect", func(t *testing.T) []tomb {
			uid := "uid-" + testenv.RandomID(t)
			saveAccount(t, s, uid, threadsID, threadsID, now)
			if known, err := s.Disconnect(ctx, uid, threadsID, now); err != nil || !known {
				t.Fatalf("Disconnect = %v, %v", known, err)
			}
			snap, err := fs.Doc(tombstonePath(uid, threadsID)).Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := snap.DataAt("threadsUserId"); got != threadsID {
				t.Errorf("tombstone threadsUserId = %v, want %s", got, threadsID)
			}
			return []tomb{{uid, threadsID}}
		}},
		{"account id differs from the Threads user id", func(t *testing.T) []tomb {
			uid := "uid-" + testenv.RandomID(t)
			saveAccount(t, s, uid, "acct-other-id", threadsID, now)
			if _, err := s.Disconnect(ctx, uid, "acct-other-id", now); err != nil {
				t.Fatal(err)
			}
			return []tomb{{uid, "acct-other-id"}}
		}},
		{"tombstone written before threadsUserId was recorded", func(t *testing.T) []tomb {
			uid := "uid-" + testenv.RandomID(t)
			if _, err := fs.Doc(tombstonePath(uid, threadsID)).Set(ctx, map[string]any{"accountId": threadsID, "disconnectedAt": now}); err != nil {
				t.Fatal(err)
			}
			return []tomb{{uid, threadsID}}
		}},
		{"another Threads user's tombstones", func(t *testing.T) []tomb {
			uid := "uid-" + testenv.RandomID(t)
			saveAccount(t, s, uid, "17841400000000999", "17841400000000999", now)
			if _, err := s.Disconnect(ctx, uid, "17841400000000999", now); err != nil {
				t.Fatal(err)
			}
			// Its account id is threadsID, but it records another user: not threadsID's.
			if _, err := fs.Doc(tombstonePath(uid, threadsID)).Set(ctx, map[string]any{"accountId": threadsID, "threadsUserId": "17841400000000998", "disconnectedAt": now}); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"a connected account is no tombstone", func(t *testing.T) []tomb {
			saveAccount(t, s, "uid-"+testenv.RandomID(t), threadsID, threadsID, now)
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case on its own: clear the tombstones of the previous ones.
			before, err := s.DisconnectedByThreadsUser(ctx, threadsID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range before {
				if err := s.DeleteAccountData(ctx, d.UID, d.AccountID, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			want := tc.setup(t)
			got, err := s.DisconnectedByThreadsUser(ctx, threadsID)
			if err != nil {
				t.Fatal(err)
			}
			var gotT []tomb
			for _, d := range got {
				gotT = append(gotT, tomb{d.UID, d.AccountID})
			}
			cmp := func(a, b tomb) int {
				return strings.Compare(a.uid+"/"+a.accountID, b.uid+"/"+b.accountID)
			}
			slices.SortFunc(gotT, cmp)
			slices.SortFunc(want, cmp)
			if fmt.Sprint(gotT) != fmt.Sprint(want) {
				t.Errorf("DisconnectedByThreadsUser = %v, want %v", gotT, want)
			}
		})
	}
}

// TestDeleteAccountDataOfDisconnectedAccount: the jobs a disconnect leaves
// (post text, request JSON) go with the tombstone.
func TestDeleteAccountDataOfDisconnectedAccount(t *testing.T) {
	s, env := newStoreAlone(t)
	ctx := t.Context()
	now := time.Now().UTC()
	uid, id := "uid-"+testenv.RandomID(t), "17841400000000102"
	saveAccount(t, s, uid, id, id, now)
	if _, _, err := s.CreateJob(ctx, &store.Job{JobID: "job-1", UID: uid, AccountID: id, Status: store.JobPublished, Kind: "TEXT",
		Text: "hello", Request: `{"text":"hello"}`, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Disconnect(ctx, uid, id, now); err != nil {
		t.Fatal(err)
	}
	refs, err := s.DisconnectedByThreadsUser(ctx, id)
	if err != nil || len(refs) != 1 {
		t.Fatalf("DisconnectedByThreadsUser = %v, %v", refs, err)
	}
	if err := s.DeleteAccountData(ctx, refs[0].UID, refs[0].AccountID, time.Now()); err != nil {
		t.Fatal(err)
	}
	fs := env.Firestore(t)
	jobs, err := fs.Collection(store.AccountPath(uid, id) + "/jobs").Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	if snap, err := fs.Doc(tombstonePath(uid, id)).Get(ctx); len(jobs) != 0 || (err == nil && snap.Exists()) {
		t.Errorf("left behind: %d jobs, tombstone %v", len(jobs), err == nil)
	}
	if refs, _ := s.DisconnectedByThreadsUser(ctx, id); len(refs) != 0 {
		t.Errorf("still found: %v", refs)
	}
}

// TestRevokeIfConnectedBefore: a deauthorization issued at issuedAt revokes
// only a connection made before it; a reconnection made since is left as it is.
func TestRevokeIfConnectedBefore(t *testing.T) {
	s, _ := newStoreAlone(t)
	ctx := t.Context()
	issued := time.Unix(time.Now().Unix()-600, 0) // signed_request times are whole seconds
	now := time.Now().UTC()
	for _, tc := range []struct {
		name        string
		noAccount   bool
		connectedAt time.Time
		wantRevoked bool
	}{
		{"connected an hour before", false, issued.Add(-time.Hour), true},
		{"connected in the request's second", false, issued, true},
		{"no tokenIssuedAt recorded", false, time.Time{}, true},
		{"reconnected in the request's second: cannot be ordered, revoked", false, issued.Add(999 * time.Millisecond), true},
		{"reconnected the next second", false, issued.Add(time.Second), false},
		{"reconnected an hour after", false, issued.Add(time.Hour), false},
		{"no account", true, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uid, id := "uid-"+testenv.RandomID(t), "17841400000000103"
			if !tc.noAccount {
				saveAccount(t, s, uid, id, id, tc.connectedAt)
			}
			revoked, err := s.RevokeIfConnectedBefore(ctx, uid, id, issued, now)
			if err != nil || revoked != tc.wantRevoked {
				t.Fatalf("RevokeIfConnectedBefore = %v, %v; want %v", revoked, err, tc.wantRevoked)
			}
			a, err := s.GetAccount(ctx, uid, id)
			switch {
			case tc.noAccount:
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("an account appeared: %v, %v", a, err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.wantRevoked && (a.Status != store.StatusRevoked || a.AccessToken != "" || a.AccessTokenKeyID != ""):
				t.Errorf("not revoked: %+v", a)
			case !tc.wantRevoked && (a.Status != store.StatusActive || a.AccessToken == ""):
				t.Errorf("reconnection touched: %+v", a)
			}
		})
	}
}

// TestFindDeletion: a recorded request is found by its key; nothing is
// recorded by looking.
func TestFindDeletion(t *testing.T) {
	s, _ := newStoreAlone(t)
	ctx := t.Context()
	key, code := "key-"+testenv.RandomID(t), "code-"+testenv.RandomID(t)
	if _, err := s.FindDeletion(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindDeletion(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.FindDeletion(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindDeletion recorded something: %v", err)
	}
	if _, err := s.StartDeletion(ctx, key, code, "17841400000000104", time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindDeletion(ctx, key)
	if err != nil || got.Code != code || got.Status != store.DeletionInProgress || got.ThreadsUserID != "17841400000000104" {
		t.Fatalf("FindDeletion = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "a/b"} {
		if _, err := s.FindDeletion(ctx, bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindDeletion(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

// TestCreateJobRequiresItsAccount: a job is created only under an account
// whose document exists, so that none appears after a disconnect's cancel
// pass or a data deletion's last listing of the jobs (ErrAccountGone, and
// nothing stored). A created job is recorded on its account (lastJobAt).
func TestCreateJobRequiresItsAccount(t *testing.T) {
	s, env := newStore(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const id = "17841400000000103"
	for _, tc := range []struct {
		name string
		// prepare leaves the user's account as the case has it.
		prepare func(t *testing.T, uid string)
		want    error
	}{
		{"connected", func(t *testing.T, uid string) { saveAccount(t, s, uid, id, id, now) }, nil},
		{"never connected", func(t *testing.T, uid string) {}, store.ErrAccountGone},
		{"disconnected", func(t *testing.T, uid string) {
			saveAccount(t, s, uid, id, id, now)
			if _, err := s.Disconnect(ctx, uid, id, now); err != nil {
				t.Fatal(err)
			}
		}, store.ErrAccountGone},
		{"its data deleted", func(t *testing.T, uid string) {
			saveAccount(t, s, uid, id, id, now)
			if err := s.DeleteAccountData(ctx, uid, id, now); err != nil {
				t.Fatal(err)
			}
		}, store.ErrAccountGone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uid := "uid-" + testenv.RandomID(t)
			tc.prepare(t, uid)
			j := &store.Job{JobID: "job-" + testenv.RandomID(t), UID: uid, AccountID: id, Status: store.JobAccepted, Kind: "text",
				CreatedAt: now, UpdatedAt: now}
			_, created, err := s.CreateJob(ctx, j)
			if !errors.Is(err, tc.want) || created != (tc.want == nil) {
				t.Fatalf("CreateJob = created %v, %v; want %v", created, err, tc.want)
			}
			_, gerr := s.GetJob(ctx, uid, id, j.JobID)
			if stored := gerr == nil; stored != (tc.want == nil) {
				t.Errorf("job stored: %v (%v)", stored, gerr)
			}
			if tc.want != nil {
				return
			}
			snap, err := env.Firestore(t).Doc(store.AccountPath(uid, id)).Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := snap.DataAt("lastJobAt"); err != nil || !v.(time.Time).Equal(now) {
				t.Errorf("account's lastJobAt = %v, %v; want %v", v, err, now)
			}
		})
	}
}

// TestClaimTokenRefresh: one caller at a time may refresh an account's
// token, and only the token it read, of an account still active and still
// there: a revoked or needs-reauth account, a token replaced since, or an
// account disconnected since is no claim (false, no error), nor is one
// claimed by another caller until its lease ends.
func TestClaimTokenRefresh(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	issued := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Microsecond)
	now := time.Now().UTC()
	const id, lease = "17841400000000104", time.Minute
	for _, tc := range []struct {
		name     string
		prepare  func(t *testing.T, uid string)
		issuedAt time.Time // what the caller read
		want     bool
	}{
		{"active, free", func(t *testing.T, uid string) {}, issued, true},
		{"claimed by another caller", func(t *testing.T, uid string) {
			if ok, err := s.ClaimTokenRefresh(ctx, uid, id, issued, now, lease); err != nil || !ok {
				t.Fatalf("first claim = %v, %v", ok, err)
			}
		}, issued, false},
		{"another caller's claim ended", func(t *testing.T, uid string) {
			if ok, err := s.ClaimTokenRefresh(ctx, uid, id, issued, now.Add(-2*lease), lease); err != nil || !ok {
				t.Fatalf("earlier claim = %v, %v", ok, err)
			}
		}, issued, true},
		{"token replaced since", func(t *testing.T, uid string) {}, issued.Add(-time.Hour), false},
		{"revoked", func(t *testing.T, uid string) {
			if ok, err := s.RevokeIfConnectedBefore(ctx, uid, id, now, now); err != nil || !ok {
				t.Fatalf("revoke = %v, %v", ok, err)
			}
		}, issued, false},
		{"needs reauth", func(t *testing.T, uid string) {
			if ok, err := s.MarkNeedsReauth(ctx, uid, id, issued, now); err != nil || !ok {
				t.Fatalf("mark = %v, %v", ok, err)
			}
		}, issued, false},
		{"disconnected", func(t *testing.T, uid string) {
			if _, err := s.Disconnect(ctx, uid, id, now); err != nil {
				t.Fatal(err)
			}
		}, issued, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uid := "uid-" + testenv.RandomID(t)
			saveAccount(t, s, uid, id, id, issued)
			tc.prepare(t, uid)
			got, err := s.ClaimTokenRefresh(ctx, uid, id, tc.issuedAt, now, lease)
			if err != nil || got != tc.want {
				t.Errorf("ClaimTokenRefresh = %v, %v; want %v, no error", got, err, tc.want)
			}
		})
	}
}
