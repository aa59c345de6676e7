package secretmanagerfake_test

import (
	"context"
	"hash/crc32"
	"net"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"threadsfunctions.dev/shared/fakes/secretmanagerfake"
)

func newClient(t *testing.T, s *secretmanagerfake.Server) *secretmanager.Client {
	t.Helper()
	c, err := secretmanager.NewClient(t.Context(), s.ClientOptions()...)
	if err != nil {
		t.Fatalf("secretmanager.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func access(ctx context.Context, c *secretmanager.Client, name string) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	return c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
}

func TestAddVersionNumbersFromOne(t *testing.T) {
	t.Parallel()
	s := secretmanagerfake.Start(t)

	for i, want := range []string{
		"projects/p/secrets/a/versions/1",
		"projects/p/secrets/a/versions/2",
		"projects/p/secrets/a/versions/3",
	} {
		if got := s.AddVersion("projects/p/secrets/a", []byte{byte(i)}); got != want {
			t.Errorf("AddVersion #%d = %q, want %q", i+1, got, want)
		}
	}
	if got, want := s.AddVersion("projects/p/secrets/b", nil), "projects/p/secrets/b/versions/1"; got != want {
		t.Errorf("AddVersion(other secret) = %q, want %q", got, want)
	}
}

func TestAddVersionMalformedPanics(t *testing.T) {
	t.Parallel()
	s := secretmanagerfake.Start(t)
	defer func() {
		if recover() == nil {
			t.Error("AddVersion(malformed) did not panic")
		}
	}()
	s.AddVersion("secrets/a", nil)
}

func TestAccessSecretVersion(t *testing.T) {
	t.Parallel()
	s := secretmanagerfake.Start(t)
	c := newClient(t, s)
	s.AddVersion("projects/p/secrets/a", []byte("one"))
	s.AddVersion("projects/p/secrets/a", []byte("two"))
	s.AddVersion("projects/p/locations/europe-west1/secrets/r", []byte("regional"))

	tests := []struct {
		name     string
		req      string
		wantName string
		wantData string
		wantCode codes.Code
	}{
		{name: "numbered", req: "projects/p/secrets/a/versions/1", wantName: "projects/p/secrets/a/versions/1", wantData: "one"},
		{name: "latest", req: "projects/p/secrets/a/versions/latest", wantName: "projects/p/secrets/a/versions/2", wantData: "two"},
		{name: "regional", req: "projects/p/locations/europe-west1/secrets/r/versions/latest", wantName: "projects/p/locations/europe-west1/secrets/r/versions/1", wantData: "regional"},
		{name: "version too high", req: "projects/p/secrets/a/versions/3", wantCode: codes.NotFound},
		{name: "version zero", req: "projects/p/secrets/a/versions/0", wantCode: codes.NotFound},
		{name: "unknown secret", req: "projects/p/secrets/nope/versions/latest", wantCode: codes.NotFound},
		{name: "unknown project", req: "projects/q/secrets/a/versions/1", wantCode: codes.NotFound},
		{name: "no version", req: "projects/p/secrets/a", wantCode: codes.InvalidArgument},
		{name: "bad version", req: "projects/p/secrets/a/versions/one", wantCode: codes.InvalidArgument},
		{name: "negative version", req: "projects/p/secrets/a/versions/-1", wantCode: codes.InvalidArgument},
		{name: "empty id", req: "projects//secrets/a/versions/1", wantCode: codes.InvalidArgument},
		{name: "wrong collection", req: "projects/p/keys/a/versions/1", wantCode: codes.InvalidArgument},
		{name: "empty", req: "", wantCode: codes.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := access(t.Context(), c, tc.req)
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("AccessSecretVersion(%q) code = %v (err %v), want %v", tc.req, got, err, tc.wantCode)
			}
			if err != nil {
				return
			}
			if resp.GetName() != tc.wantName {
				t.Errorf("Name = %q, want %q", resp.GetName(), tc.wantName)
			}
			data := resp.GetPayload().GetData()
			if string(data) != tc.wantData {
				t.Errorf("Data = %q, want %q", data, tc.wantData)
			}
			if resp.GetPayload().DataCrc32C == nil {
				t.Fatal("DataCrc32C not set")
			}
			if got, want := resp.GetPayload().GetDataCrc32C(), int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))); got != want {
				t.Errorf("DataCrc32C = %d, want %d", got, want)
			}
		})
	}
}

func TestAccessCountAndCorruptChecksum(t *testing.T) {
	t.Parallel()
	s := secretmanagerfake.Start(t)
	c := newClient(t, s)
	name := s.AddVersion("projects/p/secrets/a", []byte("x"))

	if _, err := access(t.Context(), c, name); err != nil {
		t.Fatal(err)
	}
	s.SetCorruptChecksum(true)
	resp, err := access(t.Context(), c, name)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.GetPayload().GetDataCrc32C(), int64(crc32.Checksum([]byte("x"), crc32.MakeTable(crc32.Castagnoli))); got == want {
		t.Errorf("with SetCorruptChecksum(true), DataCrc32C = %d, the correct sum", got)
	}
	_, _ = access(t.Context(), c, "projects/p/secrets/a/versions/latest")
	_, _ = access(t.Context(), c, "bogus")

	for req, want := range map[string]int{
		name:                                   2,
		"projects/p/secrets/a/versions/latest": 1,
		"bogus":                                1,
		"projects/p/secrets/a/versions/2":      0,
	} {
		if got := s.AccessCount(req); got != want {
			t.Errorf("AccessCount(%q) = %d, want %d", req, got, want)
		}
	}
}

func TestStartListenerStop(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, stop := secretmanagerfake.StartListener(lis)
	if s.Addr() != lis.Addr().String() {
		t.Errorf("Addr() = %q, want %q", s.Addr(), lis.Addr())
	}
	c := newClient(t, s)
	name := s.AddVersion("projects/p/secrets/a", []byte("x"))
	if _, err := access(t.Context(), c, name); err != nil {
		t.Fatalf("before stop: %v", err)
	}
	stop()
	stop() // idempotent
	if conn, err := net.Dial("tcp", s.Addr()); err == nil {
		_ = conn.Close()
		t.Error("listener still accepts connections after stop")
	}
}

// HoldAccess holds calls until released; a call whose caller gives up
// ends with its context's error.
func TestHoldAccess(t *testing.T) {
	t.Parallel()
	s := secretmanagerfake.Start(t)
	c := newClient(t, s)
	name := s.AddVersion("projects/p/secrets/held", []byte("x"))
	entered := make(chan struct{}, 2)
	release := s.HoldAccess(entered)

	done := make(chan error, 1)
	go func() {
		_, err := access(t.Context(), c, name)
		done <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the call was not held")
	}
	// A second call, whose caller gives up while it is held (the first
	// call's connection is up: it reaches the fake well within its time).
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	gaveUp := make(chan error, 1)
	go func() {
		_, err := access(ctx, c, name)
		gaveUp <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the second call was not held")
	}
	if err := <-gaveUp; status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a held call whose caller gave up: %v, want DeadlineExceeded", err)
	}
	select {
	case err := <-done:
		t.Fatalf("a held call answered before its release: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	release() // twice is fine
	if err := <-done; err != nil {
		t.Errorf("the released call: %v", err)
	}
	if _, err := access(t.Context(), c, name); err != nil {
		t.Errorf("a call after the release: %v", err)
	}
}
