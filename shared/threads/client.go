// Package threads is a small client for the Threads (Meta) Graph API calls
// that connect a user's account over OAuth: exchanging the authorization code
// for a short-lived token, exchanging that for a long-lived token, and reading
// the user's profile.
//
// Meta's API takes the app secret, the code and the tokens in form and query
// fields. No error returned by this package contains them: transport errors
// are stripped of the request URL (which Go's *url.Error would otherwise
// print, query string included), and error answers are never echoed raw.
// Transport errors still wrap their cause, so errors.Is(err,
// context.DeadlineExceeded) and the like keep working. Error answers from
// Threads are returned as *APIError; success answers that cannot be used wrap
// ErrMalformedResponse.
package threads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"threadsfunctions.dev/shared/httpx"
)

const (
	// apiVersion is the Graph API version of non-token endpoints.
	apiVersion = "v1.0"
	// maxBodyBytes bounds how much of an answer is read.
	maxBodyBytes = 1 << 20
	// profileFields are the fields Me asks for.
	profileFields = "id,username,name,threads_profile_picture_url"
)

// defaultHTTPClient is used when Client.HTTP is nil. It is never modified.
// Its transport keeps enough idle connections to graph.threads.net for a
// busy instance (net/http's default keeps 2 per host, so concurrent calls
// would dial, and in production handshake TLS, again and again).
var defaultHTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: httpx.PooledTransport()}

// Client talks to the Threads Graph API. It is safe for concurrent use once
// its fields are set; build it once per instance and do not change it while
// in use.
type Client struct {
	// AppID is the Threads app ID (not the Facebook app's ID).
	AppID string
	// AppSecret is the Threads app secret (not the Facebook app's secret).
	AppSecret string
	// RedirectURI is the OAuth redirect URI, exactly as configured for the
	// app and as sent to the authorize page.
	RedirectURI string
	// GraphURL is the Graph API base URL, such as "https://graph.threads.net".
	// A trailing slash is tolerated.
	GraphURL string
	// HTTP is the HTTP client to use; nil means a shared default client with
	// a 10 second timeout.
	HTTP *http.Client
}

// ShortLivedToken is the answer to ExchangeCode: a token valid for one hour.
type ShortLivedToken struct {
	// AccessToken is the short-lived access token.
	AccessToken string
	// UserID is the Threads user ID as decimal digits, exactly as Threads
	// sent it. It is empty if Threads omitted it; Me gives it too.
	UserID string
}

// LongLivedToken is the answer to ExchangeLongLived: a token valid for about
// 60 days.
type LongLivedToken struct {
	// AccessToken is the long-lived access token.
	AccessToken string
	// TokenType is the token type, normally "bearer".
	TokenType string
	// ExpiresIn is the token's lifetime in seconds from the time of the
	// answer, 0 if Threads did not say.
	ExpiresIn int64
}

// Profile is a Threads user's profile, as answered by Me.
type Profile struct {
	// ID is the Threads user ID.
	ID string
	// Username is the user's Threads handle, without "@".
	Username string
	// Name is the user's display name; it may be empty.
	Name string
	// PictureURL is the URL of the profile picture
	// (threads_profile_picture_url); it may be empty.
	PictureURL string
}

// ExchangeCode exchanges an authorization code for a short-lived token:
// POST {graph}/oauth/access_token with the form fields client_id,
// client_secret, code, grant_type=authorization_code and redirect_uri.
// A code can be used once.
func (c *Client) ExchangeCode(ctx context.Context, code string) (*ShortLivedToken, error) {
	const path = "/oauth/access_token"
	op := http.MethodPost + " " + path
	if err := checkSet(op, setting{"AppID", c.AppID}, setting{"AppSecret", c.AppSecret}, setting{"RedirectURI", c.RedirectURI}); err != nil {
		return nil, err
	}
	if code == "" {
		return nil, fmt.Errorf("threads: %s: empty code", op)
	}
	form := url.Values{
		"client_id":     {c.AppID},
		"client_secret": {c.AppSecret},
		"code":          {code},
		"grant_type":    {"authorization_code"},
		"redirect_uri":  {c.RedirectURI},
	}
	var out struct {
		AccessToken string `json:"access_token"`
		UserID      flexID `json:"user_id"`
	}
	if err := c.do(ctx, http.MethodPost, path, nil, form, redactor{c.AppSecret, code}, &out); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, fmt.Errorf("threads: %s: %w: no access_token", op, ErrMalformedResponse)
	}
	return &ShortLivedToken{AccessToken: out.AccessToken, UserID: string(out.UserID)}, nil
}

// ExchangeLongLived exchanges a short-lived token for a long-lived one:
// GET {graph}/access_token?grant_type=th_exchange_token&client_secret=...&access_token=...
// If it fails, the short-lived token must not be stored in its place.
func (c *Client) ExchangeLongLived(ctx context.Context, shortToken string) (*LongLivedToken, error) {
	const path = "/access_token"
	op := http.MethodGet + " " + path
	if err := checkSet(op, setting{"AppSecret", c.AppSecret}); err != nil {
		return nil, err
	}
	if shortToken == "" {
		return nil, fmt.Errorf("threads: %s: empty access token", op)
	}
	query := url.Values{
		"grant_type":    {"th_exchange_token"},
		"client_secret": {c.AppSecret},
		"access_token":  {shortToken},
	}
	var out struct {
		AccessToken string    `json:"access_token"`
		TokenType   string    `json:"token_type"`
		ExpiresIn   flexInt64 `json:"expires_in"`
	}
	if err := c.do(ctx, http.MethodGet, path, query, nil, redactor{c.AppSecret, shortToken}, &out); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, fmt.Errorf("threads: %s: %w: no access_token", op, ErrMalformedResponse)
	}
	return &LongLivedToken{AccessToken: out.AccessToken, TokenType: out.TokenType, ExpiresIn: int64(out.ExpiresIn)}, nil
}

// Me reads the profile of the token's user:
// GET {graph}/v1.0/me?fields=id,username,name,threads_profile_picture_url&access_token=...
// Short-lived and long-lived tokens both work.
func (c *Client) Me(ctx context.Context, accessToken string) (*Profile, error) {
	const path = "/" + apiVersion + "/me"
	op := http.MethodGet + " " + path
	if accessToken == "" {
		return nil, fmt.Errorf("threads: %s: empty access token", op)
	}
	query := url.Values{
		"fields":       {profileFields},
		"access_token": {accessToken},
	}
	var out struct {
		ID         flexID `json:"id"`
		Username   string `json:"username"`
		Name       string `json:"name"`
		PictureURL string `json:"threads_profile_picture_url"`
	}
	if err := c.do(ctx, http.MethodGet, path, query, nil, redactor{accessToken}, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, fmt.Errorf("threads: %s: %w: no id", op, ErrMalformedResponse)
	}
	return &Profile{ID: string(out.ID), Username: out.Username, Name: out.Name, PictureURL: out.PictureURL}, nil
}

// setting is a Client field a call needs: its name and value.
type setting struct{ name, value string }

// checkSet reports the first of settings that is empty.
func checkSet(op string, settings ...setting) error {
	for _, s := range settings {
		if s.value == "" {
			return fmt.Errorf("threads: %s: Client.%s is not set", op, s.name)
		}
	}
	return nil
}

// do sends one request and decodes a 2xx answer into out. query goes in the
// URL, form (if not nil) in an application/x-www-form-urlencoded body. Every
// error it returns is free of the request URL and of the values in red.
func (c *Client) do(ctx context.Context, method, path string, query, form url.Values, red redactor, out any) error {
	op := method + " " + path
	req, err := c.newRequest(ctx, op, method, path, query, form)
	if err != nil {
		return red.wrap(err)
	}
	return c.roundTrip(req, op, red, out)
}

// newRequest builds the request of do. Its errors are free of the request
// URL, but not redacted.
func (c *Client) newRequest(ctx context.Context, op, method, path string, query, form url.Values) (*http.Request, error) {
	base := strings.TrimRight(c.GraphURL, "/")
	if base == "" {
		return nil, fmt.Errorf("threads: %s: Client.GraphURL is not set", op)
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	// The URL is built without its query so that a parse error cannot
	// carry credentials; the query is set afterwards.
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return nil, fmt.Errorf("threads: %s: bad GraphURL: %w", op, withoutURL(err))
	}
	if query != nil {
		req.URL.RawQuery = query.Encode()
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// roundTrip sends req, built by newRequest, and decodes a 2xx answer into
// out. Every error it returns is free of the request URL and of the values
// in red.
func (c *Client) roundTrip(req *http.Request, op string, red redactor, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return red.wrap(fmt.Errorf("threads: %s: %w", op, withoutURL(err)))
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return red.wrap(fmt.Errorf("threads: %s: reading answer: %w", op, withoutURL(err)))
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(data) > maxBodyBytes {
		if !ok {
			return &APIError{HTTPStatus: resp.StatusCode, Message: unexpectedResponse}
		}
		return fmt.Errorf("threads: %s: %w: answer over %d bytes", op, ErrMalformedResponse, maxBodyBytes)
	}
	// Threads' error JSON is an error whatever the status.
	if apiErr, found := parseAPIError(resp.StatusCode, data); found {
		return red.apiError(apiErr)
	}
	if !ok {
		return &APIError{HTTPStatus: resp.StatusCode, Message: unexpectedResponse}
	}
	// The decoder's own error is not kept: it can quote parts of the answer.
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("threads: %s: %w: invalid JSON or field types", op, ErrMalformedResponse)
	}
	return nil
}

// withoutURL returns the cause inside a *url.Error, whose own text holds the
// full request URL, query string and credentials included.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// errNotID is returned when an id field holds something other than a string
// or a non-negative integer.
var errNotID = errors.New("threads: id is neither a string nor an integer")

// flexID decodes an id sent as a JSON string or as a JSON integer. Integers
// keep their exact digits: Threads ids have about 17 digits, more than a
// float64 holds exactly.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
		return nil
	}
	if len(b) == 0 {
		return errNotID
	}
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return errNotID
		}
	}
	*f = flexID(b)
	return nil
}

// flexInt64 decodes an integer sent as a JSON number or as a JSON string.
type flexInt64 int64

func (f *flexInt64) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("threads: not an integer")
	}
	*f = flexInt64(n)
	return nil
}
