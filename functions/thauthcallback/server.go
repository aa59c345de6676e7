package thauthcallback

import (
	"cmp"
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads"
)

// Reasons sent back to the app as threads=error&reason=<reason>.
const (
	ReasonAccessDenied        = "access_denied"
	ReasonAuthorizationFailed = "authorization_failed"
	ReasonMissingCode         = "missing_code"
	ReasonCodeExchangeFailed  = "code_exchange_failed"
	ReasonTokenExchangeFailed = "token_exchange_failed"
	ReasonProfileFailed       = "profile_failed"
	ReasonStorageFailed       = "storage_failed"
)

// CodeInvalidState is shown on the error page for unknown, used or expired states.
const CodeInvalidState = "invalid_state"

// defaultLongLivedSeconds is used when Threads omits expires_in (60 days).
const defaultLongLivedSeconds = 60 * 24 * 3600

// callbackTimeout bounds the whole callback: the state lookup, the Threads
// round trips and the write. It holds even once the request no longer
// cancels the work (see Handle).
const callbackTimeout = 25 * time.Second

// StateConsumer consumes OAuth states exactly once.
type StateConsumer interface {
	ConsumeState(ctx context.Context, id string, now time.Time) (*store.OAuthState, error)
}

// AccountSaver stores a connected account, sealing its token.
type AccountSaver interface {
	SaveAccount(ctx context.Context, uid string, a store.Account, plaintextToken string) error
}

// ThreadsAPI is the part of the Threads client the callback uses.
type ThreadsAPI interface {
	ExchangeCode(ctx context.Context, code string) (*threads.ShortLivedToken, error)
	ExchangeLongLived(ctx context.Context, shortToken string) (*threads.LongLivedToken, error)
	Me(ctx context.Context, accessToken string) (*threads.Profile, error)
}

// Server handles thAuthCallback requests.
type Server struct {
	Config   *config.Config
	States   StateConsumer
	Accounts AccountSaver
	Threads  ThreadsAPI
	Now      func() time.Time // nil: time.Now
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handle finishes the OAuth flow for GET ?code=&state= (or ?error=&state=).
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) error {
	deadline := time.Now().Add(callbackTimeout)
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	log := logging.FromContext(ctx)
	q := r.URL.Query()

	st, err := s.States.ConsumeState(ctx, q.Get("state"), s.now())
	if err != nil {
		if !errors.Is(err, store.ErrStateInvalid) {
			log.Error("oauth callback: state lookup failed", "error", err.Error())
		} else {
			log.Info("oauth callback: invalid state")
		}
		s.invalidStatePage(w, errors.Is(err, store.ErrStateInvalid))
		return nil
	}
	log = log.With("uid", st.UID)

	// The state is spent, and the code soon will be: if the browser went
	// away now (tab closed, navigation) and cancelled the exchanges or the
	// save, the user would have to start over with nothing stored. Finish
	// regardless, within the same deadline, keeping the request's values
	// (logger, trace).
	ctx, stop := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer stop()

	if e := q.Get("error"); e != "" {
		reason := ReasonAuthorizationFailed
		if e == "access_denied" {
			reason = ReasonAccessDenied
		}
		log.Info("oauth callback: authorization refused", "reason", reason, "error_reason", clip(q.Get("error_reason")))
		redirect(w, st.ReturnTo, url.Values{"threads": {"error"}, "reason": {reason}})
		return nil
	}
	code := strings.TrimSuffix(q.Get("code"), "#_")
	if code == "" {
		log.Info("oauth callback: no code")
		redirect(w, st.ReturnTo, url.Values{"threads": {"error"}, "reason": {ReasonMissingCode}})
		return nil
	}

	accountID, reason, err := s.connect(ctx, st.UID, code)
	if err != nil {
		attrs := []any{"reason", reason, "error", err.Error()}
		var apiErr *threads.APIError
		if errors.As(err, &apiErr) {
			attrs = append(attrs, slog.GroupAttrs("threads", apiErr.LogAttrs()...))
		}
		log.Warn("oauth callback: connection failed", attrs...)
		redirect(w, st.ReturnTo, url.Values{"threads": {"error"}, "reason": {reason}})
		return nil
	}
	log.Info("oauth callback: account connected", "accountId", accountID)
	redirect(w, st.ReturnTo, url.Values{"threads": {"connected"}, "accountId": {accountID}})
	return nil
}

// connect exchanges the code and stores the account. On failure it returns
// the reason to show the app; nothing is stored.
func (s *Server) connect(ctx context.Context, uid, code string) (accountID, reason string, err error) {
	short, err := s.Threads.ExchangeCode(ctx, code)
	if err != nil {
		return "", ReasonCodeExchangeFailed, err
	}

	// The long-lived exchange and the profile both need only the short-lived
	// token: ask for them at the same time.
	var (
		long    *threads.LongLivedToken
		profile *threads.Profile
		wg      sync.WaitGroup
		once    sync.Once
	)
	// The first failure cancels the other call and is the one reported (the
	// other's error would only say it was cancelled).
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(r string, e error) {
		once.Do(func() { reason, err = r, e; cancel() })
	}
	wg.Go(func() {
		var e error
		if long, e = s.Threads.ExchangeLongLived(cctx, short.AccessToken); e != nil {
			fail(ReasonTokenExchangeFailed, e)
		}
	})
	wg.Go(func() {
		var e error
		if profile, e = s.Threads.Me(cctx, short.AccessToken); e != nil {
			fail(ReasonProfileFailed, e)
		}
	})
	wg.Wait()
	if err != nil {
		return "", reason, err
	}

	accountID = profile.ID
	if accountID == "" {
		accountID = short.UserID
	}
	// The rule of thPublish and thDisconnect: an account stored under any
	// other id could never be named, so never disconnected.
	if !store.ValidAccountID(accountID) {
		return "", ReasonProfileFailed, errors.New("threads returned no usable user id")
	}
	expiresIn := long.ExpiresIn
	if expiresIn <= 0 {
		expiresIn = defaultLongLivedSeconds
	}
	tokenType := long.TokenType
	if tokenType == "" {
		tokenType = "bearer"
	}
	now := s.now().UTC()
	acct := store.Account{
		AccountID:     accountID,
		TokenType:     tokenType,
		ExpiresIn:     expiresIn,
		ExpiresAt:     now.Add(time.Duration(expiresIn) * time.Second),
		TokenIssuedAt: now,
		UpdatedAt:     now,
		Profile: store.Profile{
			PlatformID:  accountID,
			DisplayName: cmp.Or(profile.Name, profile.Username),
			Username:    cmp.Or(profile.Username, profile.Name),
			AvatarURL:   profile.PictureURL,
			AccountType: "user",
		},
		Extra:  store.Extra{ThreadsUserID: accountID},
		Status: store.StatusActive,
	}
	if err := s.Accounts.SaveAccount(ctx, uid, acct, long.AccessToken); err != nil {
		return "", ReasonStorageFailed, err
	}
	return accountID, "", nil
}

// redirect sends the browser back to the app with params added to returnTo.
func redirect(w http.ResponseWriter, returnTo string, params url.Values) {
	u, err := url.Parse(returnTo)
	if err != nil { // stored by thAuthStart after validation; cannot happen
		u = &url.URL{Path: "/"}
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	h := w.Header()
	h.Set("Location", u.String())
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusFound)
}

var invalidStateTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Threads connection failed</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}code{background:#eee;padding:0 .3em}</style>
</head><body>
<h1>This Threads connection link is no longer valid</h1>
<p>{{if .Invalid}}The link was already used, has expired, or did not come from this app.{{else}}The connection could not be checked just now.{{end}}
Start again from the app to connect your Threads account.</p>
<p>Error code: <code id="error-code">{{.Code}}</code></p>
{{if .Back}}<p><a href="{{.Back}}">Back to the app</a></p>{{end}}
</body></html>
`))

// invalidStatePage answers a callback whose state cannot be used. It has no
// returnTo to go back to (that lives in the state), so it is a page.
func (s *Server) invalidStatePage(w http.ResponseWriter, invalid bool) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	status, code := http.StatusBadRequest, CodeInvalidState
	if !invalid {
		status, code = http.StatusServiceUnavailable, "unavailable"
	}
	w.WriteHeader(status)
	_ = invalidStateTmpl.Execute(w, struct {
		Invalid bool
		Code    string
		Back    string
	}{invalid, code, s.Config.DefaultReturnTo})
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}
