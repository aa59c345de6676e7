package thauthstart

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
)

// Scopes requested from Threads, comma-separated as Threads expects.
const Scopes = "threads_basic,threads_content_publish"

// StateTTL is how long a user has to complete the authorization.
const StateTTL = 10 * time.Minute

// CodeInvalidReturnTo is the error code for a returnTo that is not allowed.
const CodeInvalidReturnTo = "invalid_return_to"

const maxBody = 8 << 10

// StateStore stores new OAuth states.
type StateStore interface {
	CreateState(ctx context.Context, id string, st store.OAuthState) error
}

// Server handles thAuthStart requests.
type Server struct {
	Config   *config.Config
	Verifier auth.Verifier
	States   StateStore
	Now      func() time.Time // nil: time.Now
	Random   io.Reader        // nil: crypto/rand
}

type request struct {
	ReturnTo *string `json:"returnTo"`
}

// Response is the success answer.
type Response struct {
	OK  bool   `json:"ok"`
	URL string `json:"url"`
}

// Handle answers POST {"returnTo"?} with the Threads authorize URL.
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	user, err := s.Verifier.Verify(ctx, r)
	if err != nil {
		return err
	}
	var req request
	if err := httpx.DecodeJSON(r, &req, maxBody, true); err != nil {
		return err
	}
	returnTo := s.Config.DefaultReturnTo
	if req.ReturnTo != nil {
		returnTo = *req.ReturnTo
		if len(returnTo) > 2048 || !s.Config.ReturnOriginAllowed(returnTo) {
			return httpx.Errorf(http.StatusBadRequest, CodeInvalidReturnTo,
				"returnTo must be an absolute http(s) URL on an allowed origin")
		}
	}

	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	state, err := s.newState(ctx, store.OAuthState{
		UID:       user.UID,
		Provider:  store.Provider,
		ReturnTo:  returnTo,
		CreatedAt: now.UTC(),
		ExpiresAt: now.Add(StateTTL).UTC(),
	})
	if err != nil {
		return err
	}
	logging.FromContext(ctx).Info("oauth started", "uid", user.UID)
	httpx.WriteJSON(w, http.StatusOK, Response{OK: true, URL: s.authorizeURL(state)})
	return nil
}

// newState stores a fresh random state, trying again in the (astronomically
// unlikely) case its id is taken.
func (s *Server) newState(ctx context.Context, st store.OAuthState) (string, error) {
	for range 3 {
		id, err := randomState(s.Random)
		if err != nil {
			return "", err
		}
		err = s.States.CreateState(ctx, id, st)
		if errors.Is(err, store.ErrStateExists) {
			continue
		}
		if err != nil {
			return "", httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not start the authorization; try again")
		}
		return id, nil
	}
	return "", fmt.Errorf("could not find a free state id")
}

// randomState returns 32 bytes from a cryptographic source, base64url
// encoded (43 characters, safe in URLs and as a Firestore document id).
func randomState(src io.Reader) (string, error) {
	b := make([]byte, 32)
	if src == nil {
		src = rand.Reader
	}
	if _, err := io.ReadFull(src, b); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Server) authorizeURL(state string) string {
	u, err := url.Parse(s.Config.AuthorizeURL)
	if err != nil { // validated by config.Load
		panic(fmt.Sprintf("authorize URL: %v", err))
	}
	q := u.Query()
	q.Set("client_id", s.Config.ThreadsAppID)
	q.Set("redirect_uri", s.Config.RedirectURI)
	q.Set("response_type", "code")
	q.Set("scope", Scopes)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}
