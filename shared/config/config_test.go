package config

import (
	"slices"
	"strings"
	"testing"
)

func validEnv() map[string]string {
	return map[string]string{
		"GOOGLE_CLOUD_PROJECT":   "demo-test",
		"THREADS_APP_ID":         "123",
		"THREADS_APP_SECRET":     "app-secret",
		"THREADS_REDIRECT_URI":   "https://fn.example.com/thAuthCallback",
		"ALLOWED_RETURN_ORIGINS": "https://app.example.com, http://localhost:5173",
		"DEFAULT_RETURN_TO":      "https://app.example.com/settings",
		"CORS_ALLOWED_ORIGINS":   "https://app.example.com",
		"TOKEN_ENCRYPTION_KEY":   "k1:AAAA",
	}
}

var all = Needs{OAuthStart: true, OAuthCallback: true, Tokens: true, Graph: true}

func TestLoadValid(t *testing.T) {
	c, err := Load(MapLookuper(validEnv()), all)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.AuthorizeURL != DefaultAuthorizeURL || c.GraphURL != DefaultGraphURL {
		t.Errorf("defaults not applied: %q %q", c.AuthorizeURL, c.GraphURL)
	}
	if want := []string{"https://app.example.com", "http://localhost:5173"}; !slices.Equal(c.AllowedReturnOrigins, want) {
		t.Errorf("AllowedReturnOrigins = %q, want %q", c.AllowedReturnOrigins, want)
	}
	if c.GIFAttachments {
		t.Error("GIFAttachments is on by default")
	}
	// A simulator on this machine may speak plain http.
	for _, host := range []string{"127.0.0.1:8090", "localhost:8090", "[::1]:8090"} {
		env := validEnv()
		env["THREADS_GRAPH_URL"], env["THREADS_AUTHORIZE_URL"] = "http://"+host, "http://"+host+"/oauth/authorize"
		if _, err := Load(MapLookuper(env), all); err != nil {
			t.Errorf("a loopback simulator at %s: %v", host, err)
		}
	}
	for v, want := range map[string]bool{"true": true, "false": false, "1": true} {
		env := validEnv()
		env["THREADS_GIF_ATTACHMENTS"] = v
		if c, err := Load(MapLookuper(env), all); err != nil || c.GIFAttachments != want {
			t.Errorf("THREADS_GIF_ATTACHMENTS=%s: GIFAttachments = %v (err %v), want %v", v, c != nil && c.GIFAttachments, err, want)
		}
	}
}

func TestLoadProblems(t *testing.T) {
	cases := []struct {
		name  string
		needs Needs
		edit  func(m map[string]string)
		want  []string // every substring must appear in the one error
	}{
		{
			name:  "everything missing names every variable",
			needs: all,
			edit:  func(m map[string]string) { clear(m) },
			want: []string{"GOOGLE_CLOUD_PROJECT", "THREADS_APP_ID", "THREADS_REDIRECT_URI", "ALLOWED_RETURN_ORIGINS",
				"DEFAULT_RETURN_TO", "THREADS_APP_SECRET or THREADS_APP_SECRET_NAME", "TOKEN_ENCRYPTION_KEY or TOKEN_ENCRYPTION_KEY_NAME"},
		},
		{
			name:  "both secret forms",
			needs: Needs{OAuthCallback: true},
			edit:  func(m map[string]string) { m["THREADS_APP_SECRET_NAME"] = "projects/p/secrets/s/versions/1" },
			want:  []string{"set only one of THREADS_APP_SECRET and THREADS_APP_SECRET_NAME"},
		},
		{
			name:  "bad secret version name",
			needs: Needs{Tokens: true},
			edit: func(m map[string]string) {
				delete(m, "TOKEN_ENCRYPTION_KEY")
				m["TOKEN_ENCRYPTION_KEY_NAME"] = "projects/p/secrets/s"
			},
			want: []string{"TOKEN_ENCRYPTION_KEY_NAME must be a Secret Manager version name"},
		},
		{
			name:  "origin with a path",
			needs: Needs{OAuthStart: true},
			edit:  func(m map[string]string) { m["ALLOWED_RETURN_ORIGINS"] = "https://app.example.com/x" },
			want:  []string{"ALLOWED_RETURN_ORIGINS: not an origin", "https://app.example.com/x"},
		},
		{
			name:  "cors wildcard refused",
			needs: Needs{},
			edit:  func(m map[string]string) { m["CORS_ALLOWED_ORIGINS"] = "*" },
			want:  []string{"CORS_ALLOWED_ORIGINS: not an origin"},
		},
		{
			name:  "default return outside allowed origins",
			needs: Needs{OAuthStart: true},
			edit:  func(m map[string]string) { m["DEFAULT_RETURN_TO"] = "https://evil.example.net/" },
			want:  []string{"DEFAULT_RETURN_TO must have an origin listed in ALLOWED_RETURN_ORIGINS"},
		},
		{
			name:  "relative redirect uri",
			needs: Needs{OAuthCallback: true},
			edit:  func(m map[string]string) { m["THREADS_REDIRECT_URI"] = "/thAuthCallback" },
			want:  []string{"THREADS_REDIRECT_URI must be an absolute http(s) URL"},
		},
		{
			name:  "tasks settings missing",
			needs: Needs{Tasks: true},
			edit:  func(m map[string]string) {},
			want:  []string{"TASKS_QUEUE", "TASKS_TARGET_URL", "TASKS_SERVICE_ACCOUNT"},
		},
		{
			name:  "gif switch not a boolean",
			needs: Needs{},
			edit:  func(m map[string]string) { m["THREADS_GIF_ATTACHMENTS"] = "yes please" },
			want:  []string{"THREADS_GIF_ATTACHMENTS must be true or false"},
		},
		{
			name:  "graph url over plain http to another host",
			needs: Needs{Graph: true},
			edit:  func(m map[string]string) { m["THREADS_GRAPH_URL"] = "http://graph.threads.net" },
			want:  []string{"THREADS_GRAPH_URL must be an https URL"},
		},
		{
			name:  "authorize url over plain http to another host",
			needs: Needs{OAuthStart: true},
			edit:  func(m map[string]string) { m["THREADS_AUTHORIZE_URL"] = "http://sim.example.com/oauth/authorize" },
			want:  []string{"THREADS_AUTHORIZE_URL must be an https URL"},
		},
		{
			name:  "signed request max age over a day",
			needs: Needs{},
			edit:  func(m map[string]string) { m["SIGNED_REQUEST_MAX_AGE"] = "720h" },
			want:  []string{"SIGNED_REQUEST_MAX_AGE must be at most 24h"},
		},
		{
			name:  "bad graph url",
			needs: Needs{Graph: true},
			edit:  func(m map[string]string) { m["THREADS_GRAPH_URL"] = "ftp://graph" },
			want:  []string{"THREADS_GRAPH_URL must be an absolute http(s) URL"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := validEnv()
			tc.edit(env)
			_, err := Load(MapLookuper(env), tc.needs)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "app-secret") {
				t.Errorf("error leaks a secret value: %q", msg)
			}
		})
	}
}

func TestNeedsLimitWhatIsRequired(t *testing.T) {
	// A publish-only function needs neither the app secret nor the OAuth settings.
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-test", "TOKEN_ENCRYPTION_KEY": "k1:AAAA"}
	if _, err := Load(MapLookuper(env), Needs{Tokens: true, Graph: true}); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

func TestOriginChecks(t *testing.T) {
	c, err := Load(MapLookuper(validEnv()), all)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		raw  string
		want bool
	}{
		{"https://app.example.com/after?x=1#top", true},
		{"https://APP.example.com:443/", true},
		{"http://localhost:5173/", true},
		{"http://localhost:5174/", false},
		{"http://app.example.com/", false},
		{"https://app.example.com.evil.net/", false},
		{"https://user:pw@app.example.com/", false},
		{"//app.example.com/", false},
		{"/relative", false},
		{"javascript:alert(1)", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := c.ReturnOriginAllowed(tc.raw); got != tc.want {
			t.Errorf("ReturnOriginAllowed(%q) = %v, want %v", tc.raw, got, tc.want)
		}
	}
	if !c.CORSOriginAllowed("https://app.example.com") || c.CORSOriginAllowed("http://localhost:5173") {
		t.Error("CORSOriginAllowed does not follow CORS_ALLOWED_ORIGINS")
	}
}

// CORSOnly reads CORS_ALLOWED_ORIGINS alone, as Load does, whatever else
// is wrong; an empty or invalid value gives no policy.
func TestCORSOnly(t *testing.T) {
	cases := []struct {
		name, value string
		allowed     []string
		refused     []string
	}{
		{"valid, the rest missing", " https://APP.example.com:443 , http://localhost:5173", []string{"https://app.example.com", "http://localhost:5173"},
			[]string{"https://evil.example.com", "http://app.example.com", ""}},
		{"empty", "", nil, nil},
		{"not an origin", "https://app.example.com/path", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			allow := CORSOnly(MapLookuper(map[string]string{"CORS_ALLOWED_ORIGINS": tc.value}))
			if (allow == nil) != (tc.allowed == nil) {
				t.Fatalf("CORSOnly(%q) gave a policy: %v, want %v", tc.value, allow != nil, tc.allowed != nil)
			}
			for _, o := range tc.allowed {
				if !allow(o) {
					t.Errorf("%q refused", o)
				}
			}
			for _, o := range tc.refused {
				if allow(o) {
					t.Errorf("%q allowed", o)
				}
			}
		})
	}
}

// The runtime's settings are the Go runtime's, never the configuration's
// (deploycheck admits them beside config's names), and each caller gets its
// own copy.
func TestDeployedRuntimeEnv(t *testing.T) {
	env := DeployedRuntimeEnv()
	if len(env) == 0 {
		t.Fatal("DeployedRuntimeEnv is empty")
	}
	names := EnvNames()
	for k, v := range env {
		if slices.Contains(names, k) {
			t.Errorf("%s is read by Load: a runtime setting must not be configuration", k)
		}
		if !strings.HasPrefix(k, "GO") {
			t.Errorf("%s is not a Go runtime variable", k)
		}
		if strings.TrimSpace(v) == "" {
			t.Errorf("%s is empty", k)
		}
		env[k] = "changed"
	}
	for k, v := range DeployedRuntimeEnv() {
		if v == "changed" {
			t.Errorf("DeployedRuntimeEnv shares its map: %s kept a caller's change", k)
		}
	}
}
