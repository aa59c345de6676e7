package thdatadeletion

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/signedrequest"
	"threadsfunctions.dev/shared/store"
)

// Server handles thDataDeletion requests.
type Server struct {
	Secret []byte
	Store  *store.Store
	MaxAge time.Duration
	// StatusURL is this function's public URL; empty: derived from the request.
	StatusURL string
	Now       func() time.Time // nil: time.Now
}

// Answer is what Meta expects from a data-deletion callback.
type Answer struct {
	URL              string `json:"url"`
	ConfirmationCode string `json:"confirmation_code"`
}

// Handle serves the callback (POST) and the status page (GET ?code=).
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodGet {
		return s.statusPage(w, r)
	}
	ctx := r.Context()
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	signed, err := signedrequest.FromRequest(r)
	if err != nil {
		return err
	}
	p, err := signedrequest.Parse(signed, s.Secret)
	if err != nil {
		return err
	}
	var req *store.DeletionRequest
	switch err := p.CheckAge(now, s.MaxAge); {
	case err == nil:
		// The same callback (user and issue time) resumes the same request, so
		// a deletion interrupted half-way completes when Meta retries.
		req, err = s.Store.StartDeletion(ctx, deletionKey(p), newCode(), p.UserID, now)
		if err != nil {
			return unavailable(err)
		}
	case !p.IssuedAt.After(now):
		// Stale, and too old rather than from the future: Meta may retry
		// after SIGNED_REQUEST_MAX_AGE. A request this old, validly signed,
		// that repeats a deletion already recorded resumes it: it only
		// finishes what Meta asked for while it was fresh. Anything else stays refused, as
		// stale, and nothing is recorded. Only a validly signed request is
		// looked up, so the lookup is no oracle for forged ones.
		var lookupErr error
		req, lookupErr = s.Store.FindDeletion(ctx, deletionKey(p))
		switch {
		case errors.Is(lookupErr, store.ErrNotFound):
			return err
		case lookupErr != nil:
			return unavailable(lookupErr)
		}
	default:
		return err
	}
	if req.Status != store.DeletionDone {
		accounts, err := s.Store.AccountsByThreadsUser(ctx, p.UserID)
		if err != nil {
			return unavailable(err)
		}
		for _, a := range accounts {
			if err := s.Store.DeleteAccountData(ctx, a.UID, a.Account.AccountID, now); err != nil {
				return unavailable(err)
			}
		}
		// Accounts the user disconnected before have no account document, but
		// their jobs and tombstones remain: found through the tombstones.
		disconnected, err := s.Store.DisconnectedByThreadsUser(ctx, p.UserID)
		if err != nil {
			return unavailable(err)
		}
		for _, d := range disconnected {
			if err := s.Store.DeleteAccountData(ctx, d.UID, d.AccountID, now); err != nil {
				return unavailable(err)
			}
		}
		if err := s.Store.CompleteDeletion(ctx, req.Code, now); err != nil {
			return unavailable(err)
		}
		logging.FromContext(ctx).Info("data deleted", "threadsUserId", p.UserID, "accounts", len(accounts),
			"disconnectedAccounts", len(disconnected), "confirmationCode", req.Code)
	}
	httpx.WriteJSON(w, http.StatusOK, Answer{URL: s.statusURL(r, req.Code), ConfirmationCode: req.Code})
	return nil
}

// deletionKey is the retry key of a callback: its user and issue time.
func deletionKey(p *signedrequest.Payload) string {
	sum := sha256.Sum256([]byte(p.UserID + "|" + strconv.FormatInt(p.IssuedAt.Unix(), 10)))
	return hex.EncodeToString(sum[:])
}

func unavailable(err error) error {
	return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "the deletion could not finish now; it resumes when the request is repeated")
}

func (s *Server) statusURL(r *http.Request, code string) string {
	base := s.StatusURL
	if base == "" {
		scheme := "https"
		if r.TLS == nil && r.Header.Get("X-Forwarded-Proto") == "" {
			scheme = "http"
		}
		base = scheme + "://" + r.Host + r.URL.Path
	}
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.RawQuery = url.Values{"code": {code}}.Encode()
	return u.String()
}

// newCode returns a random confirmation code (128 bits, hex).
func newCode() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}

var page = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Data deletion request</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}code{background:#eee;padding:0 .3em}</style>
</head><body>
<h1>Data deletion request</h1>
{{if .Found}}<p>Confirmation code <code>{{.Code}}</code>, received {{.Requested}}.</p>
<p id="status" data-status="{{.Status}}">{{if eq .Status "done"}}Done: every piece of data this app stored for your Threads account was deleted on {{.Completed}}.{{else}}In progress: the deletion has started and will complete shortly.{{end}}</p>
{{else}}<p id="status" data-status="unknown">There is no data deletion request with this confirmation code.</p>{{end}}
</body></html>
`))

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) error {
	code := r.URL.Query().Get("code")
	req, err := s.Store.GetDeletion(r.Context(), code)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return unavailable(err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	data := map[string]any{"Found": req != nil}
	if req != nil {
		data["Code"], data["Status"] = req.Code, req.Status
		data["Requested"] = req.RequestedAt.UTC().Format("2006-01-02 15:04 MST")
		data["Completed"] = req.CompletedAt.UTC().Format("2006-01-02 15:04 MST")
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusNotFound)
	}
	return page.Execute(w, data)
}
