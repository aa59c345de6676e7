// Package secretmanagerfake is an in-process fake of Google Secret Manager
// that speaks the real gRPC protocol. Tests (and local runs, where no Secret
// Manager emulator exists) point the real client at it with ClientOptions.
//
// Only AccessSecretVersion is implemented; versions are seeded with
// AddVersion. Every other RPC answers codes.Unimplemented.
package secretmanagerfake

import (
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Server is a fake Secret Manager gRPC server. It is safe for concurrent use.
type Server struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	addr string

	mu       sync.Mutex
	versions map[string][][]byte // secret name -> payloads; index i is version i+1
	accesses map[string]int      // requested name -> AccessSecretVersion calls
	corrupt  bool
	down     bool
	// held: accesses wait for it to be closed (HoldAccess), telling entered.
	held    chan struct{}
	entered chan<- struct{}
}

// Start starts a fake on 127.0.0.1 with an ephemeral port and stops it when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("secretmanagerfake: listen on 127.0.0.1:0: %v", err)
	}
	s, stop := StartListener(lis)
	t.Cleanup(stop)
	return s
}

// StartListener serves a fake on lis, for use outside tests (local runs). The
// returned function stops the server and closes lis; it is safe to call more
// than once.
func StartListener(lis net.Listener) (*Server, func()) {
	s := &Server{
		addr:     lis.Addr().String(),
		versions: make(map[string][][]byte),
		accesses: make(map[string]int),
	}
	gs := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(gs, s)
	go func() {
		// Serve returns nil after GracefulStop; any other error means the
		// listener broke, and every later RPC will fail loudly on its own.
		_ = gs.Serve(lis)
	}()
	var once sync.Once
	return s, func() { once.Do(gs.GracefulStop) }
}

// Addr returns the host:port the fake listens on.
func (s *Server) Addr() string { return s.addr }

// ClientOptions returns the options that point the real Secret Manager client
// at this fake: its endpoint, no credentials and a plaintext connection.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// AddVersion stores payload as the next version of secret, which must look
// like "projects/P/secrets/S" (or "projects/P/locations/L/secrets/S"). The
// first version of a secret is 1. It returns the full version name,
// "projects/P/secrets/S/versions/N". A malformed secret name is a programming
// error in the caller's setup and panics.
func (s *Server) AddVersion(secret string, payload []byte) string {
	if !validSecretName(secret) {
		panic(fmt.Sprintf("secretmanagerfake: AddVersion: malformed secret name %q, want projects/P/secrets/S", secret))
	}
	data := append([]byte(nil), payload...)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[secret] = append(s.versions[secret], data)
	return secret + "/versions/" + strconv.Itoa(len(s.versions[secret]))
}

// AccessCount returns how many AccessSecretVersion calls asked for exactly
// name, whether or not they succeeded. "…/versions/latest" and
// "…/versions/1" are counted separately.
func (s *Server) AccessCount(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accesses[name]
}

// SetCorruptChecksum makes later answers carry a wrong CRC32C when on is
// true, so tests can exercise the client's integrity check.
func (s *Server) SetCorruptChecksum(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt = on
}

// SetUnavailable makes later calls fail with Unavailable (an outage, which
// the client retries by itself) while on is true.
func (s *Server) SetUnavailable(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = on
}

// HoldAccess makes later calls wait, each sending on entered (which
// should be buffered enough not to block them) as it starts waiting,
// until release is called or the call's context ends (its caller gave
// up: the client sees that).
func (s *Server) HoldAccess(entered chan<- struct{}) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := make(chan struct{})
	s.held, s.entered = held, entered
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.held == held {
				s.held, s.entered = nil, nil
			}
			close(held)
		})
	}
}

// AccessSecretVersion implements secretmanagerpb.SecretManagerServiceServer.
// It resolves "…/versions/N" and "…/versions/latest" and answers the payload
// with its CRC32C (Castagnoli) checksum.
func (s *Server) AccessSecretVersion(ctx context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	name := req.GetName()

	s.mu.Lock()
	held, entered := s.held, s.entered
	s.mu.Unlock()
	if held != nil {
		if entered != nil {
			entered <- struct{}{}
		}
		select {
		case <-held:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.accesses[name]++
	if s.down {
		return nil, status.Error(codes.Unavailable, "secretmanagerfake: unavailable")
	}

	secret, version, ok := splitVersionName(name)
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument,
			"invalid secret version name %q, want projects/*/secrets/*/versions/{N|latest}", name)
	}
	payloads := s.versions[secret]
	n := len(payloads)
	if version != "latest" {
		n, _ = strconv.Atoi(version) // digits only, checked by splitVersionName
	}
	if n < 1 || n > len(payloads) {
		return nil, status.Errorf(codes.NotFound, "secret version %q not found", name)
	}

	data := append([]byte(nil), payloads[n-1]...)
	sum := int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	if s.corrupt {
		sum = (sum + 1) % (1 << 32)
	}
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name: secret + "/versions/" + strconv.Itoa(n),
		Payload: &secretmanagerpb.SecretPayload{
			Data:       data,
			DataCrc32C: &sum,
		},
	}, nil
}

// validSecretName reports whether name is "projects/P/secrets/S" or
// "projects/P/locations/L/secrets/S" with non-empty, slash-free IDs.
func validSecretName(name string) bool {
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == "" {
			return false
		}
	}
	switch len(parts) {
	case 4:
		return parts[0] == "projects" && parts[2] == "secrets"
	case 6:
		return parts[0] == "projects" && parts[2] == "locations" && parts[4] == "secrets"
	default:
		return false
	}
}

// splitVersionName splits "<secret>/versions/<v>" into the secret name and v,
// where v is "latest" or a decimal version number.
func splitVersionName(name string) (secret, version string, ok bool) {
	i := strings.LastIndex(name, "/versions/")
	if i < 0 {
		return "", "", false
	}
	secret, version = name[:i], name[i+len("/versions/"):]
	if !validSecretName(secret) || !validVersion(version) {
		return "", "", false
	}
	return secret, version, true
}

func validVersion(v string) bool {
	if v == "latest" {
		return true
	}
	if v == "" || len(v) > 9 { // 9 digits cannot overflow int
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
