package secrets_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"threadsfunctions.dev/shared/fakes/secretmanagerfake"
	"threadsfunctions.dev/shared/secrets"
)

const secretName = "projects/p/secrets/oauth-client-secret"

// newSecretManager returns a fake server and a SecretManager using the real
// client pointed at it.
func newSecretManager(t *testing.T) (*secretmanagerfake.Server, *secrets.SecretManager) {
	t.Helper()
	fake := secretmanagerfake.Start(t)
	sm, err := secrets.NewSecretManager(t.Context(), fake.ClientOptions()...)
	if err != nil {
		t.Fatalf("NewSecretManager: %v", err)
	}
	t.Cleanup(func() {
		if err := sm.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return fake, sm
}

func grpcCode(err error) codes.Code {
	st, _ := status.FromError(err) // unwraps %w chains
	return st.Code()
}

func TestAccess(t *testing.T) {
	t.Parallel()
	fake, sm := newSecretManager(t)
	v1 := fake.AddVersion(secretName, []byte("first"))
	fake.AddVersion(secretName, []byte("second"))
	empty := fake.AddVersion("projects/p/secrets/empty", nil)

	tests := []struct {
		name string
		req  string
		want string
	}{
		{name: "numbered version", req: v1, want: "first"},
		{name: "latest", req: secretName + "/versions/latest", want: "second"},
		{name: "empty payload", req: empty, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sm.Access(t.Context(), tc.req)
			if err != nil {
				t.Fatalf("Access(%q): %v", tc.req, err)
			}
			if string(got) != tc.want {
				t.Errorf("Access(%q) = %q, want %q", tc.req, got, tc.want)
			}
		})
	}
}

// A missing version is NotFound, named in the error; every Access asks
// Secret Manager (nothing is kept, a failure least of all).
func TestAccessNotFound(t *testing.T) {
	t.Parallel()
	fake, sm := newSecretManager(t)
	name := secretName + "/versions/7"

	for i := 1; i <= 2; i++ {
		_, err := sm.Access(t.Context(), name)
		if err == nil {
			t.Fatalf("Access #%d of a missing version succeeded", i)
		}
		if got := grpcCode(err); got != codes.NotFound {
			t.Errorf("Access #%d code = %v (err %v), want NotFound", i, got, err)
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name the version %q", err, name)
		}
		if got := fake.AccessCount(name); got != i {
			t.Errorf("after Access #%d, AccessCount = %d, want %d (every Access asks)", i, got, i)
		}
	}
}

func TestAccessChecksum(t *testing.T) {
	t.Parallel()
	fake, sm := newSecretManager(t)
	const payload = "s3cr3t-payload-value"
	name := fake.AddVersion(secretName, []byte(payload))

	fake.SetCorruptChecksum(true)
	_, err := sm.Access(t.Context(), name)
	if !errors.Is(err, secrets.ErrChecksum) {
		t.Fatalf("Access with corrupt checksum: err = %v, want ErrChecksum", err)
	}
	if !strings.Contains(err.Error(), name) {
		t.Errorf("error %q does not name the version %q", err, name)
	}

	fake.SetCorruptChecksum(false)
	got, err := sm.Access(t.Context(), name)
	if err != nil {
		t.Fatalf("Access after checksum fixed: %v (a checksum failure is not kept)", err)
	}
	if string(got) != payload {
		t.Errorf("Access = %q, want %q", got, payload)
	}
}

func TestAccessEmptyName(t *testing.T) {
	t.Parallel()
	fake, sm := newSecretManager(t)
	if _, err := sm.Access(t.Context(), ""); err == nil {
		t.Error("Access(\"\") succeeded")
	}
	if got := fake.AccessCount(""); got != 0 {
		t.Errorf("Access(\"\") reached the server %d times, want 0", got)
	}
}

// TestErrorsNeverContainPayload provokes every error path that has seen a
// payload and checks the payload is not in the message.
func TestErrorsNeverContainPayload(t *testing.T) {
	t.Parallel()
	fake, sm := newSecretManager(t)
	const payload = "hunter2-very-secret"
	name := fake.AddVersion(secretName, []byte(payload))
	fake.SetCorruptChecksum(true)

	var errs []error
	_, err := sm.Access(t.Context(), name)
	errs = append(errs, err)
	_, err = secrets.Resolve(t.Context(), sm, "", name)
	errs = append(errs, err)
	_, err = sm.Access(t.Context(), secretName+"/versions/latest")
	errs = append(errs, err)
	_, err = sm.Access(t.Context(), secretName+"/versions/9")
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		if strings.Contains(err.Error(), payload) {
			t.Errorf("case %d: error %q contains the payload", i, err)
		}
	}
}

// fakeAccessor is an Accessor backed by a map.
type fakeAccessor map[string]string

func (f fakeAccessor) Access(_ context.Context, name string) ([]byte, error) {
	v, ok := f[name]
	if !ok {
		return nil, errors.New("no such secret " + name)
	}
	return []byte(v), nil
}

func TestResolve(t *testing.T) {
	t.Parallel()
	a := fakeAccessor{
		"n/plain":   "value",
		"n/lf":      "value\n",
		"n/crlf":    "value\r\n",
		"n/two-lf":  "value\n\n",
		"n/spaces":  " value ",
		"n/only-lf": "\n",
	}
	tests := []struct {
		name    string
		a       secrets.Accessor
		plain   string
		secret  string
		want    string
		wantErr bool
	}{
		{name: "plain value, no name", a: a, plain: "local", want: "local"},
		{name: "plain value, nil accessor", a: nil, plain: "local", want: "local"},
		{name: "empty plain, no name", a: a, want: ""},
		{name: "name wins over plain", a: a, plain: "local", secret: "n/plain", want: "value"},
		{name: "trailing LF trimmed", a: a, secret: "n/lf", want: "value"},
		{name: "trailing CRLF trimmed", a: a, secret: "n/crlf", want: "value"},
		{name: "only one LF trimmed", a: a, secret: "n/two-lf", want: "value\n"},
		{name: "spaces kept", a: a, secret: "n/spaces", want: " value "},
		{name: "newline only", a: a, secret: "n/only-lf", want: ""},
		{name: "accessor error", a: a, secret: "n/missing", wantErr: true},
		{name: "name without accessor", a: nil, secret: "n/plain", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secrets.Resolve(t.Context(), tc.a, tc.plain, tc.secret)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Resolve err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Resolve = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResolveWithSecretManager(t *testing.T) {
	t.Parallel()
	fake, sm := newSecretManager(t)
	fake.AddVersion(secretName, []byte("client-secret\n"))

	got, err := secrets.Resolve(t.Context(), sm, "ignored", secretName+"/versions/latest")
	if err != nil {
		t.Fatal(err)
	}
	if got != "client-secret" {
		t.Errorf("Resolve = %q, want %q", got, "client-secret")
	}

	_, err = secrets.Resolve(t.Context(), sm, "", secretName+"/versions/2")
	if got := grpcCode(err); got != codes.NotFound {
		t.Errorf("Resolve(missing) code = %v (err %v), want NotFound", got, err)
	}
}

// In a Secret Manager outage a read ends, failing, at its bound: the client
// would retry Unavailable for a minute, as long as some functions' timeout.
// Nothing of it is kept: the next read once the outage is over succeeds.
func TestAccessOutageEndsAtTheBound(t *testing.T) {
	fake, sm := newSecretManager(t)
	version := fake.AddVersion(secretName, []byte("s3cret"))
	secrets.SetFetchTimeout(sm, 300*time.Millisecond)
	fake.SetUnavailable(true)

	done := make(chan error, 1)
	go func() {
		_, err := sm.Access(t.Context(), version)
		done <- err
	}()
	select {
	case err := <-done:
		if grpcCode(err) != codes.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want the bound's DeadlineExceeded", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still waiting after 30 s: the read has no bound")
	}
	if fake.AccessCount(version) == 0 {
		t.Error("Secret Manager was never called")
	}

	fake.SetUnavailable(false)
	if got, err := sm.Access(t.Context(), version); err != nil || string(got) != "s3cret" {
		t.Errorf("after the outage: %q, %v", got, err)
	}
}
