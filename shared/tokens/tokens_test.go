package tokens_test

import (
	"context"
	"testing"
	"time"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/tokens"
)

// refreshAPI is Threads' refresh call; meanwhile runs while it is "in
// flight" (a reconnection, a revocation), and fail makes it refuse the
// token (code 190).
type refreshAPI struct {
	meanwhile func(ctx context.Context)
	fail      bool
}

func (f refreshAPI) RefreshToken(ctx context.Context, _ string) (*threads.LongLivedToken, error) {
	if f.meanwhile != nil {
		f.meanwhile(ctx)
	}
	if f.fail {
		return nil, &threads.APIError{HTTPStatus: 400, Code: 190, Message: "Session has expired."}
	}
	return &threads.LongLivedToken{AccessToken: "REFRESHED", TokenType: "bearer", ExpiresIn: 5184000}, nil
}

// TestRefreshLosesToAReconnectionOrARevocation: what happens to the
// account while its token is being refreshed wins. A reconnection keeps its
// new token and stays active; a revocation stays a revocation with no
// token; only an account still holding the refreshed token is changed.
func TestRefreshLosesToAReconnectionOrARevocation(t *testing.T) {
	env := testenv.Require(t)
	keyring, _ := testenv.Keyring(t, "k1")
	s := store.New(env.Firestore(t), keyring)
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := store.Account{AccountID: "17841400000000050", TokenType: "bearer", ExpiresIn: 5184000,
		TokenIssuedAt: now.Add(-55 * 24 * time.Hour), ExpiresAt: now.Add(5 * 24 * time.Hour), // due for refresh
		UpdatedAt: now, Status: store.StatusActive}

	// What may happen to the account while its token is being refreshed.
	reconnect := func(ctx context.Context, t *testing.T, uid string) {
		fresh := old
		fresh.TokenIssuedAt, fresh.ExpiresAt = now.Add(time.Second), now.Add(60*24*time.Hour)
		if err := s.SaveAccount(ctx, uid, fresh, "RECONNECTED"); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(ctx context.Context, t *testing.T, uid string) {
		if ok, err := s.RevokeIfConnectedBefore(ctx, uid, old.AccountID, now, now); err != nil || !ok {
			t.Fatalf("revoke: %v, %v", ok, err)
		}
	}

	cases := []struct {
		name        string
		meanwhile   func(ctx context.Context, t *testing.T, uid string)
		fail        bool
		wantOutcome tokens.Outcome
		wantStatus  string
		wantToken   string // "" : none stored
	}{
		{"nothing meanwhile", nil, false, tokens.Refreshed, store.StatusActive, "REFRESHED"},
		{"reconnected meanwhile", reconnect, false, tokens.Busy, store.StatusActive, "RECONNECTED"},
		{"revoked meanwhile", revoke, false, tokens.Busy, store.StatusRevoked, ""},
		{"refused, nothing meanwhile", nil, true, tokens.NeedsReauth, store.StatusNeedsReauth, "OLD"},
		{"refused, reconnected meanwhile", reconnect, true, tokens.Busy, store.StatusActive, "RECONNECTED"},
		{"refused, revoked meanwhile", revoke, true, tokens.Busy, store.StatusRevoked, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			uid := "uid-" + testenv.RandomID(t)
			if err := s.SaveAccount(ctx, uid, old, "OLD"); err != nil {
				t.Fatal(err)
			}
			acct, err := s.GetAccount(ctx, uid, old.AccountID)
			if err != nil {
				t.Fatal(err)
			}
			api := refreshAPI{fail: tc.fail}
			if tc.meanwhile != nil {
				api.meanwhile = func(ctx context.Context) { tc.meanwhile(ctx, t, uid) }
			}
			r := &tokens.Refresher{Store: s, Threads: api, Now: func() time.Time { return now }}
			_, outcome, err := r.Refresh(ctx, uid, acct, "OLD", 7*24*time.Hour)
			if err != nil || outcome != tc.wantOutcome {
				t.Fatalf("Refresh = %v, %v; want %v", outcome, err, tc.wantOutcome)
			}
			got, err := s.GetAccount(ctx, uid, old.AccountID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.wantStatus {
				t.Errorf("status %q, want %q", got.Status, tc.wantStatus)
			}
			tok, err := s.OpenToken(uid, got)
			if tc.wantToken == "" {
				if err == nil {
					t.Errorf("a token %q is stored, want none", tok)
				}
			} else if err != nil || tok != tc.wantToken {
				t.Errorf("token %q (%v), want %q", tok, err, tc.wantToken)
			}
		})
	}
}
