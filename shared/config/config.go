// Package config reads the functions' configuration from the environment.
//
// Every variable name here is public interface, documented in the README.
// Each function states what it needs (Needs); Load validates exactly that
// and reports every problem at once, so a misconfigured deployment says
// everything that is wrong in one log line instead of one problem per deploy.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"threadsfunctions.dev/shared/tasks"
)

// Defaults for the Threads endpoints.
const (
	DefaultAuthorizeURL = "https://www.threads.net/oauth/authorize"
	DefaultGraphURL     = "https://graph.threads.net"
)

// Lookuper finds an environment variable; os.LookupEnv is one. Tests pass a map.
type Lookuper func(name string) (string, bool)

// MapLookuper returns a Lookuper over a fixed map.
func MapLookuper(m map[string]string) Lookuper {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// OSLookuper reads the process environment.
func OSLookuper() Lookuper { return os.LookupEnv }

// Needs says which parts of the configuration a function uses. Only those are
// required, so each function's service account needs only its own secrets.
type Needs struct {
	// OAuthStart: app id, redirect URI, authorize URL, return-to origins.
	OAuthStart bool
	// OAuthCallback: app id and secret, redirect URI, Graph URL, return-to defaults.
	OAuthCallback bool
	// Tokens: the token-encryption keyring.
	Tokens bool
	// Graph: the Threads Graph API base URL.
	Graph bool
	// Tasks: the Cloud Tasks queue for retries (TASKS_*).
	Tasks bool
	// AppSecret: the Threads app secret alone (signed_request callbacks).
	AppSecret bool
	// Scheduler: the Cloud Scheduler invoker that calls the function
	// (SCHEDULER_SERVICE_ACCOUNT, SCHEDULER_AUDIENCE).
	Scheduler bool
}

// Config is the validated configuration of one function instance.
type Config struct {
	ProjectID string

	ThreadsAppID         string
	ThreadsAppSecret     string // local use only; prefer ThreadsAppSecretName
	ThreadsAppSecretName string // Secret Manager version name
	RedirectURI          string
	AuthorizeURL         string
	GraphURL             string

	AllowedReturnOrigins []string // normalised "scheme://host[:port]"
	DefaultReturnTo      string
	CORSAllowedOrigins   []string // normalised origins; "*" is not accepted

	TokenEncryptionKey     string // local use only; prefer TokenEncryptionKeyName
	TokenEncryptionKeyName string // Secret Manager version name

	FirestoreEmulatorHost string
	AuthEmulatorHost      string

	// Tasks is the Cloud Tasks configuration (TASKS_QUEUE, TASKS_TARGET_URL,
	// TASKS_SERVICE_ACCOUNT, TASKS_EMULATOR_HOST).
	Tasks tasks.Config

	// SignedRequestMaxAge bounds the age of Meta's signed_request (default 1 h).
	SignedRequestMaxAge time.Duration
	// DataDeletionStatusURL is thDataDeletion's public URL, for the status
	// page link Meta shows the user; empty: derived from the request.
	DataDeletionStatusURL string
	// SchedulerServiceAccount and SchedulerAudience: the OIDC identity Cloud
	// Scheduler calls thRefresh with, and the audience it asks for (the
	// function's URL).
	SchedulerServiceAccount string
	SchedulerAudience       string
	// RefreshWindow: thRefresh refreshes tokens expiring within it (default 10 days).
	RefreshWindow time.Duration
	// GIFAttachments turns on thPublish's gif field
	// (THREADS_GIF_ATTACHMENTS=true). Off by default: the shape of Threads'
	// gif_attachment comes from secondary sources only.
	GIFAttachments bool

	needs Needs
}

// Needs reports what this configuration was validated for.
func (c *Config) Needs() Needs { return c.needs }

// Load reads and validates the configuration for a function with the given needs.
// The error joins every problem found.
func Load(lookup Lookuper, needs Needs) (*Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	c := &Config{
		ProjectID:               get("GOOGLE_CLOUD_PROJECT"),
		ThreadsAppID:            get("THREADS_APP_ID"),
		ThreadsAppSecret:        get("THREADS_APP_SECRET"),
		ThreadsAppSecretName:    get("THREADS_APP_SECRET_NAME"),
		RedirectURI:             get("THREADS_REDIRECT_URI"),
		AuthorizeURL:            get("THREADS_AUTHORIZE_URL"),
		GraphURL:                strings.TrimRight(get("THREADS_GRAPH_URL"), "/"),
		DefaultReturnTo:         get("DEFAULT_RETURN_TO"),
		TokenEncryptionKey:      get("TOKEN_ENCRYPTION_KEY"),
		TokenEncryptionKeyName:  get("TOKEN_ENCRYPTION_KEY_NAME"),
		FirestoreEmulatorHost:   get("FIRESTORE_EMULATOR_HOST"),
		AuthEmulatorHost:        get("FIREBASE_AUTH_EMULATOR_HOST"),
		Tasks:                   tasks.LoadConfig(lookup),
		DataDeletionStatusURL:   get("DATA_DELETION_STATUS_URL"),
		SchedulerServiceAccount: get("SCHEDULER_SERVICE_ACCOUNT"),
		SchedulerAudience:       get("SCHEDULER_AUDIENCE"),
		needs:                   needs,
	}
	if c.AuthorizeURL == "" {
		c.AuthorizeURL = DefaultAuthorizeURL
	}
	if c.GraphURL == "" {
		c.GraphURL = DefaultGraphURL
	}

	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	origins, err := parseOrigins("ALLOWED_RETURN_ORIGINS", get("ALLOWED_RETURN_ORIGINS"))
	if err != nil {
		errs = append(errs, err)
	}
	c.AllowedReturnOrigins = origins
	cors, err := parseOrigins("CORS_ALLOWED_ORIGINS", get("CORS_ALLOWED_ORIGINS"))
	if err != nil {
		errs = append(errs, err)
	}
	c.CORSAllowedOrigins = cors

	if c.ProjectID == "" {
		fail("GOOGLE_CLOUD_PROJECT is required")
	}
	if needs.OAuthStart || needs.OAuthCallback {
		if c.ThreadsAppID == "" {
			fail("THREADS_APP_ID is required")
		}
		if err := checkURL("THREADS_REDIRECT_URI", c.RedirectURI, true); err != nil {
			errs = append(errs, err)
		}
		if len(c.AllowedReturnOrigins) == 0 {
			fail("ALLOWED_RETURN_ORIGINS is required (comma-separated origins such as https://app.example.com)")
		}
		if c.DefaultReturnTo == "" {
			fail("DEFAULT_RETURN_TO is required")
		} else if err := checkURL("DEFAULT_RETURN_TO", c.DefaultReturnTo, true); err != nil {
			errs = append(errs, err)
		} else if !c.ReturnOriginAllowed(c.DefaultReturnTo) {
			fail("DEFAULT_RETURN_TO must have an origin listed in ALLOWED_RETURN_ORIGINS")
		}
	}
	if needs.OAuthStart {
		if err := checkThreadsURL("THREADS_AUTHORIZE_URL", c.AuthorizeURL); err != nil {
			errs = append(errs, err)
		}
	}
	if needs.OAuthCallback || needs.AppSecret {
		errs = append(errs, oneOf("THREADS_APP_SECRET", c.ThreadsAppSecret, "THREADS_APP_SECRET_NAME", c.ThreadsAppSecretName)...)
	}
	c.SignedRequestMaxAge = durationVar(get, "SIGNED_REQUEST_MAX_AGE", time.Hour, &errs)
	if c.SignedRequestMaxAge > maxSignedRequestAge {
		// It is the replay window of Meta's callbacks: a day is plenty.
		fail("SIGNED_REQUEST_MAX_AGE must be at most 24h")
	}
	c.RefreshWindow = durationVar(get, "REFRESH_WINDOW", 10*24*time.Hour, &errs)
	if v := get("THREADS_GIF_ATTACHMENTS"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			fail("THREADS_GIF_ATTACHMENTS must be true or false")
		}
		c.GIFAttachments = on
	}
	if c.DataDeletionStatusURL != "" {
		if err := checkURL("DATA_DELETION_STATUS_URL", c.DataDeletionStatusURL, false); err != nil {
			errs = append(errs, err)
		}
	}
	if needs.Scheduler {
		if c.SchedulerServiceAccount == "" || !strings.Contains(c.SchedulerServiceAccount, "@") {
			fail("SCHEDULER_SERVICE_ACCOUNT is required (the email of the service account Cloud Scheduler calls with)")
		}
		if err := checkURL("SCHEDULER_AUDIENCE", c.SchedulerAudience, true); err != nil {
			errs = append(errs, err)
		}
	}
	if needs.OAuthCallback || needs.Graph {
		if err := checkThreadsURL("THREADS_GRAPH_URL", c.GraphURL); err != nil {
			errs = append(errs, err)
		}
	}
	if needs.Tokens {
		errs = append(errs, oneOf("TOKEN_ENCRYPTION_KEY", c.TokenEncryptionKey, "TOKEN_ENCRYPTION_KEY_NAME", c.TokenEncryptionKeyName)...)
	}
	if needs.Tasks {
		if err := c.Tasks.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range []struct{ name, value string }{
		{"THREADS_APP_SECRET_NAME", c.ThreadsAppSecretName},
		{"TOKEN_ENCRYPTION_KEY_NAME", c.TokenEncryptionKeyName},
	} {
		if n.value != "" && !isSecretVersionName(n.value) {
			fail("%s must be a Secret Manager version name like projects/P/secrets/S/versions/latest", n.name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
}

// ReturnOriginAllowed reports whether raw is an absolute http(s) URL whose
// origin is one of ALLOWED_RETURN_ORIGINS.
func (c *Config) ReturnOriginAllowed(raw string) bool {
	o, ok := OriginOf(raw)
	if !ok {
		return false
	}
	for _, a := range c.AllowedReturnOrigins {
		if a == o {
			return true
		}
	}
	return false
}

// CORSOnly reads CORS_ALLOWED_ORIGINS alone and returns its policy (as
// CORSOriginAllowed), so that an instance whose configuration does not
// load can still answer the browsers it names readably; nil when the
// variable is empty or itself invalid.
func CORSOnly(lookup Lookuper) func(origin string) bool {
	v, _ := lookup("CORS_ALLOWED_ORIGINS")
	origins, err := parseOrigins("CORS_ALLOWED_ORIGINS", strings.TrimSpace(v))
	if err != nil || len(origins) == 0 {
		return nil
	}
	return (&Config{CORSAllowedOrigins: origins}).CORSOriginAllowed
}

// CORSOriginAllowed reports whether a browser Origin header value is allowed.
func (c *Config) CORSOriginAllowed(origin string) bool {
	o, ok := OriginOf(origin)
	if !ok {
		return false
	}
	for _, a := range c.CORSAllowedOrigins {
		if a == o {
			return true
		}
	}
	return false
}

// OriginOf returns the normalised origin ("scheme://host[:port]", lower case,
// default port dropped) of an absolute http(s) URL without credentials.
func OriginOf(raw string) (string, bool) {
	_, origin, ok := httpURL(raw)
	return origin, ok
}

// httpURL parses an absolute http(s) URL without credentials, and returns
// it with its origin as OriginOf does.
func httpURL(raw string) (*url.URL, string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return nil, "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return nil, "", false
	}
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port != "" {
		return u, scheme + "://" + host + ":" + port, true
	}
	return u, scheme + "://" + host, true
}

func parseOrigins(name, value string) ([]string, error) {
	if value == "" {
		return nil, nil
	}
	var out []string
	var bad []string
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, o, ok := httpURL(part)
		if !ok || !isBareOrigin(u) {
			bad = append(bad, part)
			continue
		}
		out = append(out, o)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: not an origin (scheme://host[:port], no path): %s", name, strings.Join(bad, ", "))
	}
	return out, nil
}

// isBareOrigin reports whether u is nothing but an origin (an optional
// trailing slash aside), so that "https://a.example/path" is rejected
// as a configured origin.
func isBareOrigin(u *url.URL) bool {
	return (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery
}

// durationVar reads a Go duration ("90m", "240h"), def when unset.
func durationVar(get func(string) string, name string, def time.Duration, errs *[]error) time.Duration {
	v := get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		*errs = append(*errs, fmt.Errorf("%s must be a positive duration such as 1h or 240h", name))
		return def
	}
	return d
}

// maxSignedRequestAge bounds SIGNED_REQUEST_MAX_AGE.
const maxSignedRequestAge = 24 * time.Hour

// checkThreadsURL checks an optional Threads endpoint (the default is
// Meta's): tokens, codes and the app secret travel to it, so it must be
// https, but for a simulator on this machine (a loopback host).
func checkThreadsURL(name, value string) error {
	if err := checkURL(name, value, false); err != nil || value == "" {
		return err
	}
	u, _, _ := httpURL(value)
	if strings.EqualFold(u.Scheme, "https") || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%s must be an https URL (http only for a loopback host such as 127.0.0.1)", name)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkURL(name, value string, required bool) error {
	if value == "" {
		if required {
			return fmt.Errorf("%s is required", name)
		}
		return nil
	}
	if _, ok := OriginOf(value); !ok {
		return fmt.Errorf("%s must be an absolute http(s) URL", name)
	}
	return nil
}

func oneOf(plainName, plain, secretName, secret string) []error {
	switch {
	case plain == "" && secret == "":
		return []error{fmt.Errorf("one of %s or %s is required", plainName, secretName)}
	case plain != "" && secret != "":
		return []error{fmt.Errorf("set only one of %s and %s", plainName, secretName)}
	}
	return nil
}

func isSecretVersionName(s string) bool {
	p := strings.Split(s, "/")
	return len(p) == 6 && p[0] == "projects" && p[1] != "" && p[2] == "secrets" && p[3] != "" && p[4] == "versions" && p[5] != ""
}
