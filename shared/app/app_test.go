package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/fakes/secretmanagerfake"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/tokencrypt"
)

const (
	appSecretName = "projects/demo-p/secrets/threads-app-secret"
	keyName       = "projects/demo-p/secrets/token-key"
)

func callbackEnv() map[string]string {
	return map[string]string{
		"GOOGLE_CLOUD_PROJECT":      "demo-p",
		"FIRESTORE_EMULATOR_HOST":   "127.0.0.1:1", // never dialled: clients connect lazily
		"THREADS_APP_ID":            "123",
		"THREADS_APP_SECRET_NAME":   appSecretName + "/versions/latest",
		"THREADS_REDIRECT_URI":      "https://fn.example.com/thAuthCallback",
		"ALLOWED_RETURN_ORIGINS":    "https://app.example.com",
		"DEFAULT_RETURN_TO":         "https://app.example.com/",
		"TOKEN_ENCRYPTION_KEY_NAME": keyName + "/versions/1",
	}
}

// Secrets named in the configuration are read from Secret Manager through
// the real client, once per instance however many requests follow.
func TestSecretsComeFromSecretManagerOncePerInstance(t *testing.T) {
	sm := secretmanagerfake.Start(t)
	keyText, err := tokencrypt.GenerateKeyText("k7")
	if err != nil {
		t.Fatal(err)
	}
	sm.AddVersion(appSecretName, []byte("the-app-secret\n"))
	sm.AddVersion(keyName, []byte(keyText))

	var built *app.Deps
	opts := app.Options{
		Needs:         config.Needs{OAuthCallback: true, Tokens: true},
		Lookup:        config.MapLookuper(callbackEnv()),
		Logger:        logging.New(&bytes.Buffer{}, slog.LevelInfo),
		SecretManager: sm.ClientOptions(),
	}
	h := app.Lazy("thTest", opts, func(d *app.Deps) (http.Handler, error) {
		built = d
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
	})
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusTeapot {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
	if built.Threads.AppSecret != "the-app-secret" {
		t.Errorf("app secret = %q (trailing newline must be trimmed)", built.Threads.AppSecret)
	}
	if built.Keyring.ActiveKeyID() != "k7" {
		t.Errorf("keyring active id = %q", built.Keyring.ActiveKeyID())
	}
	for _, name := range []string{appSecretName + "/versions/latest", keyName + "/versions/1"} {
		if n := sm.AccessCount(name); n != 1 {
			t.Errorf("%s read %d times, want 1", name, n)
		}
	}
}

// A Secret Manager failure is not permanent: the instance answers 503 and
// the next request tries again.
func TestTransientStartupFailureIsRetried(t *testing.T) {
	sm := secretmanagerfake.Start(t)
	keyText, _ := tokencrypt.GenerateKeyText("k1")
	sm.AddVersion(keyName, []byte(keyText)) // the app secret is missing at first
	var logs bytes.Buffer
	opts := app.Options{
		Needs:         config.Needs{OAuthCallback: true, Tokens: true},
		Lookup:        config.MapLookuper(callbackEnv()),
		Logger:        logging.New(&logs, slog.LevelInfo),
		SecretManager: sm.ClientOptions(),
	}
	h := app.Lazy("thTest", opts, func(d *app.Deps) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"unavailable"`) {
		t.Fatalf("first answer %d %s, want 503 unavailable", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), appSecretName) {
		t.Errorf("the log does not name the missing secret: %s", logs.String())
	}
	sm.AddVersion(appSecretName, []byte("s"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("second answer %d %s, want the handler's", rec.Code, rec.Body.String())
	}
}

// A keyring that does not parse is a configuration problem: 500, not retried.
func TestBadKeyringIsMisconfiguration(t *testing.T) {
	env := callbackEnv()
	delete(env, "TOKEN_ENCRYPTION_KEY_NAME")
	delete(env, "THREADS_APP_SECRET_NAME")
	env["THREADS_APP_SECRET"] = "s"
	env["TOKEN_ENCRYPTION_KEY"] = "k1:c2hvcnQ="
	_, err := app.Build(context.Background(), app.Options{Needs: config.Needs{OAuthCallback: true, Tokens: true}, Lookup: config.MapLookuper(env)})
	if !errors.Is(err, app.ErrConfig) || !strings.Contains(err.Error(), "TOKEN_ENCRYPTION_KEY") {
		t.Fatalf("Build = %v, want a TOKEN_ENCRYPTION_KEY problem", err)
	}
	if strings.Contains(err.Error(), "c2hvcnQ") {
		t.Error("error shows key material")
	}
}
