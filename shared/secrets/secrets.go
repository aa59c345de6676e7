// Package secrets reads secret payloads from Google Secret Manager.
//
// Functions take secrets either as plain configuration values (local runs) or
// as Secret Manager version names (deployments); Resolve picks between the
// two. app.Build reads each secret once per instance start-up, so a rotated
// secret reached through ".../versions/latest" is picked up by new instances
// only.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
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

// SecretManager reads secret versions with the real client. It keeps
// nothing it read: app.Build reads each secret once per instance start and
// closes its SecretManager then. It is safe for concurrent use.
type SecretManager struct {
	client  *secretmanager.Client
	timeout time.Duration // of each read: FetchTimeout
}

// NewSecretManager builds a Secret Manager client with opts (for example the
// options of a fake server, or none in production) and returns a reader
// around it. Close releases the client.
func NewSecretManager(ctx context.Context, opts ...option.ClientOption) (*SecretManager, error) {
	client, err := secretmanager.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("secrets: create Secret Manager client: %w", err)
	}
	return &SecretManager{client: client, timeout: FetchTimeout}, nil
}

// Close releases the underlying client.
func (s *SecretManager) Close() error {
	return s.client.Close()
}

// Access returns the payload of the secret version name, for example
// "projects/P/secrets/S/versions/latest", read within FetchTimeout. The
// payload's CRC32C is verified when the server sends one (ErrChecksum on
// mismatch).
func (s *SecretManager) Access(ctx context.Context, name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("secrets: empty secret version name")
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
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
