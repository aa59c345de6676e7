// Package tokens keeps long-lived Threads tokens alive: the one code path
// that refreshes a token, used before a publish (thPublish) and by the
// scheduled sweep (thRefresh).
//
// Threads refreshes a long-lived token only when it is at least 24 hours
// old and not expired; an expired token cannot be refreshed and the user
// must connect again.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads"
)

// MinAge is how old a token must be before Threads refreshes it.
const MinAge = 24 * time.Hour

// claimLease bounds how long one refresher holds an account's refresh mark.
const claimLease = time.Minute

// defaultLifetime is used when Threads omits expires_in (60 days).
const defaultLifetime = 60 * 24 * time.Hour

// Outcome says what Refresh did.
type Outcome int

// Outcomes.
const (
	// NotDue: the token is too young or far from expiry; nothing was done.
	NotDue Outcome = iota
	// Refreshed: a new token was stored.
	Refreshed
	// Busy: another caller is refreshing this account; the current token is still valid.
	Busy
	// NeedsReauth: the token expired or Threads refused it (code 190); the
	// account is marked needs_reauth.
	NeedsReauth
	// Failed: the refresh failed for another reason (error returned); the
	// current token is still valid.
	Failed
)

func (o Outcome) String() string {
	return [...]string{"not_due", "refreshed", "busy", "needs_reauth", "failed"}[o]
}

// RefreshAPI is the Threads call the refresher makes.
type RefreshAPI interface {
	RefreshToken(ctx context.Context, token string) (*threads.LongLivedToken, error)
}

// Refresher refreshes account tokens.
type Refresher struct {
	Store   *store.Store
	Threads RefreshAPI
	Now     func() time.Time // nil: time.Now
}

func (r *Refresher) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Expired reports whether the account's token can no longer be used.
func Expired(a *store.Account, now time.Time) bool {
	return !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt)
}

// Due reports whether the token should be refreshed now: at least MinAge
// old and expiring within window.
func Due(a *store.Account, now time.Time, window time.Duration) bool {
	return !a.TokenIssuedAt.IsZero() && now.Sub(a.TokenIssuedAt) >= MinAge && a.ExpiresAt.Sub(now) <= window
}

// Refresh refreshes the account's token when it is due and returns the
// token to use from now on (the refreshed one, or token as given); on
// Refreshed, a's token times become the new token's. Of concurrent callers
// for one account, one refreshes (a mark claimed in a transaction on the
// account); the others get Busy, as does a refresh whose account was
// reconnected or revoked meanwhile (its token is dropped). An account is
// marked needs_reauth only while it still holds the refused token; when it
// no longer does, the outcome is Busy too.
func (r *Refresher) Refresh(ctx context.Context, uid string, a *store.Account, token string, window time.Duration) (string, Outcome, error) {
	now := r.now()
	if Expired(a, now) {
		marked, err := r.Store.MarkNeedsReauth(ctx, uid, a.AccountID, a.TokenIssuedAt, now)
		if err != nil {
			return token, Failed, err
		}
		if !marked {
			return token, Busy, nil // the account changed meanwhile: not this caller's to judge
		}
		return token, NeedsReauth, nil
	}
	if !Due(a, now, window) {
		return token, NotDue, nil
	}
	claimed, err := r.Store.ClaimTokenRefresh(ctx, uid, a.AccountID, a.TokenIssuedAt, now, claimLease)
	if err != nil {
		return token, Failed, err
	}
	if !claimed {
		return token, Busy, nil
	}
	fresh, err := r.Threads.RefreshToken(ctx, token)
	if err != nil {
		var apiErr *threads.APIError
		if errors.As(err, &apiErr) && apiErr.TokenInvalid() {
			marked, serr := r.Store.MarkNeedsReauth(ctx, uid, a.AccountID, a.TokenIssuedAt, now)
			if serr != nil {
				return token, Failed, serr
			}
			if !marked {
				return token, Busy, nil // reconnected or revoked meanwhile: its own state stands
			}
			return token, NeedsReauth, nil
		}
		return token, Failed, fmt.Errorf("refresh token: %w", err)
	}
	lifetime := time.Duration(fresh.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = defaultLifetime
	}
	saved, err := r.Store.SaveRefreshedToken(ctx, uid, a.AccountID, fresh.AccessToken, int64(lifetime.Seconds()), a.TokenIssuedAt, now)
	if err != nil {
		return token, Failed, err
	}
	if !saved {
		// Reconnected or revoked while refreshing: the account's own token
		// wins, and this one is dropped, as if another caller refreshed.
		return token, Busy, nil
	}
	a.TokenIssuedAt, a.ExpiresIn, a.ExpiresAt = now, int64(lifetime.Seconds()), now.Add(lifetime)
	return fresh.AccessToken, Refreshed, nil
}
