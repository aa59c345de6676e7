// Package secrets reads secret payloads from Google Secret Manager.
//
// Functions take secrets either as plain configuration values (local runs) or
// as Secret Manager version names (deployments); Resolve picks between the
// two. app.Build reads each secret once per instance start-up, so a rotated
// secret reached through ".../versions/latest" is picked up by new instances
// only. A SecretManager also caches what it read for as long as it lives
// (Build closes its own once the secrets are read).
package secrets

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
)

// ErrChecksum reports that a payload did not match the CRC32C checksum sent
// with it, i.e. it was corrupted in transit.
var ErrChecksum = errors.New("secrets: payload checksum mismatch")

// Accessor reads secret payloads. Implemented by *SecretManager; tests may
// fake it. Implementations should name the secret version in their errors and
// never include the payload.
type Accessor interface {
	Access(ctx context.Context, name string) ([]byte, error)
}

var _ Accessor = (*SecretManager)(nil)

// FetchTimeout bounds one read of a secret version, the client's own retries
// included (it retries Unavailable for up to a minute): as long as the
// bundle's other dependencies get, so an outage at an instance's start is
// answered 503, not held until the function's timeout.
const FetchTimeout = 10 * time.Second

// fetchFunc performs one AccessSecretVersion call.
type fetchFunc func(ctx context.Context, name string) (*secretmanagerpb.AccessSecretVersionResponse, error)

// SecretManager reads versions with the real client and caches each payload
// for as long as it lives. It is safe for concurrent use; concurrent
// callers asking for the same uncached name share a single request.
type SecretManager struct {
	client  *secretmanager.Client // nil only in tests that inject fetch
	fetch   fetchFunc
	timeout time.Duration // of each fetch: FetchTimeout

	mu       sync.Mutex
	cache    map[string][]byte
	inflight map[string]*call
}

// call is one in-flight fetch that other callers of the same name wait on.
type call struct {
	done chan struct{} // closed when val/err are set
	val  []byte
	err  error
	// leaderCanceled is set when the fetch failed because the context of the
	// caller that started it ended; waiters then retry with their own.
	leaderCanceled bool
}

// NewSecretManager builds a Secret Manager client with opts (for example the
// options of a fake server, or none in production) and returns a caching
// reader around it. Close releases the client.
func NewSecretManager(ctx context.Context, opts ...option.ClientOption) (*SecretManager, error) {
	client, err := secretmanager.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("secrets: create Secret Manager client: %w", err)
	}
	s := newSecretManager(func(ctx context.Context, name string) (*secretmanagerpb.AccessSecretVersionResponse, error) {
		return client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	})
	s.client = client
	return s, nil
}

func newSecretManager(fetch fetchFunc) *SecretManager {
	return &SecretManager{
		fetch:    fetch,
		timeout:  FetchTimeout,
		cache:    make(map[string][]byte),
		inflight: make(map[string]*call),
	}
}

// Close releases the underlying client.
func (s *SecretManager) Close() error {
	if s.client == nil {
		return nil
	}
	return s.client.Close()
}

// Access returns the payload of the secret version name, for example
// "projects/P/secrets/S/versions/latest". The first successful read of a name
// is cached; errors are not, so a later call tries again. The payload's
// CRC32C is verified when the server sends one (ErrChecksum on mismatch).
// The returned slice is the caller's own copy.
func (s *SecretManager) Access(ctx context.Context, name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("secrets: empty secret version name")
	}
	for {
		s.mu.Lock()
		if v, ok := s.cache[name]; ok {
			s.mu.Unlock()
			return clone(v), nil
		}
		if c, ok := s.inflight[name]; ok {
			s.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("secrets: access %q: %w", name, context.Cause(ctx))
			}
			if c.leaderCanceled && ctx.Err() == nil {
				continue // the caller that started the fetch gave up; try ourselves
			}
			if c.err != nil {
				return nil, c.err
			}
			return clone(c.val), nil
		}
		c := &call{done: make(chan struct{})}
		s.inflight[name] = c
		s.mu.Unlock()

		s.lead(ctx, name, c)
		if c.err != nil {
			return nil, c.err
		}
		return clone(c.val), nil
	}
}

// lead performs the fetch for c, then publishes the result to the cache (on
// success) and to waiters. The deferred part also runs if fetch panics, so
// waiters are never left blocked.
func (s *SecretManager) lead(ctx context.Context, name string, c *call) {
	c.err = fmt.Errorf("secrets: access %q: fetch did not complete", name)
	defer func() {
		s.mu.Lock()
		delete(s.inflight, name)
		if c.err == nil {
			s.cache[name] = c.val
		}
		s.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = s.load(ctx, name)
	c.leaderCanceled = c.err != nil && ctx.Err() != nil
}

// load fetches and verifies one version, uncached.
func (s *SecretManager) load(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.fetch(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("secrets: access %q: %w", name, err)
	}
	p := resp.GetPayload()
	data := p.GetData()
	if p.DataCrc32C != nil && int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))) != p.GetDataCrc32C() {
		return nil, fmt.Errorf("secrets: access %q: %w", name, ErrChecksum)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

func clone(b []byte) []byte { return append([]byte{}, b...) }

// Resolve returns plain if name is empty, otherwise the payload of the secret
// version name read through a, as a string with one trailing newline ("\n" or
// "\r\n") removed: `gcloud secrets versions add --data-file` keeps the newline
// most editors end a file with. Errors from a are returned unchanged.
func Resolve(ctx context.Context, a Accessor, plain, name string) (string, error) {
	if name == "" {
		return plain, nil
	}
	if a == nil {
		return "", fmt.Errorf("secrets: resolve %q: no Accessor configured", name)
	}
	b, err := a.Access(ctx, name)
	if err != nil {
		return "", err
	}
	v := string(b)
	if t, ok := strings.CutSuffix(v, "\r\n"); ok {
		return t, nil
	}
	return strings.TrimSuffix(v, "\n"), nil
}
