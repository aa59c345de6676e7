// Package store keeps the bundle's data in Firestore: the single-use OAuth
// states and the connected Threads accounts, whose access tokens it seals
// with the token keyring before they are written.
//
// Data model (see the README):
//
//	oauthStates/{state}                                  uid, provider, returnTo, createdAt, expiresAt
//	users/{uid}/integrations/threads/accounts/{accountId} a connected account
//
// The design's users/{uid}/integrations/threads/{accountId} names a
// collection (Firestore paths alternate collection/document), so accounts
// live one level down, under the document's "accounts" collection.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"threadsfunctions.dev/shared/tokencrypt"
)

// Provider is the value of OAuthState.Provider for Threads.
const Provider = "threads"

// Account statuses.
const (
	StatusActive = "active"
	// StatusNeedsReauth: Threads refused the token (code 190); the user must connect again.
	StatusNeedsReauth = "needs_reauth"
)

// Errors callers branch on.
var (
	// ErrStateInvalid: the state is unknown, already used or expired.
	ErrStateInvalid = errors.New("oauth state is unknown, used or expired")
	// ErrStateExists: CreateState found the id taken (a random-source failure).
	ErrStateExists = errors.New("oauth state already exists")
	// ErrNotFound: no such document.
	ErrNotFound = errors.New("not found")
	// ErrNoKeyring: the store was built without a keyring but asked to seal or open a token.
	ErrNoKeyring = errors.New("store has no token keyring")
)

// NewFirestore builds a Firestore client for projectID. With
// FIRESTORE_EMULATOR_HOST set (emulatorHost non-empty) it talks to the
// emulator without credentials and without looking for a metadata server.
func NewFirestore(ctx context.Context, projectID, emulatorHost string, opts ...option.ClientOption) (*firestore.Client, error) {
	// Telemetry off first, so a caller's options still win: against Google,
	// the transport otherwise wraps every RPC in an OpenTelemetry stats
	// handler that nothing exports (the emulator's connection has none).
	opts = append([]option.ClientOption{option.WithTelemetryDisabled()}, opts...)
	if emulatorHost != "" {
		opts = append(opts, option.WithoutAuthentication())
	}
	c, err := firestore.NewClient(ctx, projectID, opts...)
	if err != nil {
		return nil, fmt.Errorf("firestore client: %w", err)
	}
	return c, nil
}

// OpTimeout bounds each Firestore operation of a Store (a read, a write, a
// query, a transaction with its own retries, a claim with its few tries;
// each query and batch of a method that loops over many documents): as long
// as the Auth lookup and a Threads call may take. A transaction that fails
// may take up to 5 s more: the client's rollback has its own timeout. The
// Firestore client retries reads that fail Unavailable without a limit of
// its own, and writes for up to a minute, so in a Firestore outage a request
// would otherwise wait for the function's timeout and its caller get the
// platform's bare 504; bounded, the operation fails in time for the
// function to answer its JSON 503.
//
// The store's primitives take the bound (get, getAll, runTx, deleteAll);
// a method that calls the client otherwise takes it itself (bound).
const OpTimeout = 10 * time.Second

// Store reads and writes the bundle's documents.
type Store struct {
	fs        *firestore.Client
	keyring   *tokencrypt.Keyring
	opTimeout time.Duration
}

// Option configures a Store.
type Option func(*Store)

// WithOpTimeout sets the bound of each Firestore operation (default
// OpTimeout; d <= 0 keeps it); tests of an outage set a short one.
func WithOpTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.opTimeout = d
		}
	}
}

// New returns a Store over fs. keyring may be nil for functions that never
// touch tokens (thAuthStart).
func New(fs *firestore.Client, keyring *tokencrypt.Keyring, opts ...Option) *Store {
	s := &Store{fs: fs, keyring: keyring, opTimeout: OpTimeout}
	for _, o := range opts {
		o(s)
	}
	return s
}

// bound gives one Firestore operation its context: ctx, ending at the
// latest opTimeout from now (OpTimeout).
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTimeout)
}

// get reads ref, as one operation (bound): ErrNotFound when there is none.
func (s *Store) get(ctx context.Context, ref *firestore.DocumentRef) (*firestore.DocumentSnapshot, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, ErrNotFound
	}
	return snap, err
}

// runTx runs f in a transaction, retries included, as one operation (bound).
func (s *Store) runTx(ctx context.Context, f func(context.Context, *firestore.Transaction) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.fs.RunTransaction(ctx, f)
}

// getAll runs q, as one operation (bound).
func (s *Store) getAll(ctx context.Context, q firestore.Query) ([]*firestore.DocumentSnapshot, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return q.Documents(ctx).GetAll()
}

// deleteAll deletes the documents in one batch, as one operation (bound).
func (s *Store) deleteAll(ctx context.Context, refs ...*firestore.DocumentRef) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	b := s.fs.Batch()
	for _, r := range refs {
		b.Delete(r)
	}
	_, err := b.Commit(ctx)
	return err
}

// Close closes the Firestore client (its connections).
func (s *Store) Close() error {
	if err := s.fs.Close(); err != nil {
		return fmt.Errorf("store: close firestore client: %w", err)
	}
	return nil
}

// OAuthState is a pending authorization, stored at oauthStates/{state}.
type OAuthState struct {
	UID       string    `firestore:"uid"`
	Provider  string    `firestore:"provider"`
	ReturnTo  string    `firestore:"returnTo"`
	CreatedAt time.Time `firestore:"createdAt"`
	ExpiresAt time.Time `firestore:"expiresAt"`
}

func (s *Store) stateDoc(id string) *firestore.DocumentRef {
	return s.fs.Collection("oauthStates").Doc(id)
}

// CreateState stores a new state; it fails with ErrStateExists rather than
// overwrite one.
func (s *Store) CreateState(ctx context.Context, id string, st OAuthState) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.stateDoc(id).Create(ctx, st); err != nil {
		if status.Code(err) == codes.AlreadyExists {
			return ErrStateExists
		}
		return fmt.Errorf("create oauth state: %w", err)
	}
	return nil
}

// validStateID reports whether id can be a state: 1 to 256 of
// [A-Za-z0-9_-] (thAuthStart's are 43 base64url characters), and not of
// Firestore's reserved form __.*__. Anything else is not a document id
// Firestore would take (invalid UTF-8, "..", "a/b", "__x__" fail there
// with InvalidArgument), so it is refused without asking.
func validStateID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	if len(id) >= 4 && strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__") {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ConsumeState reads a state and deletes it on the condition that it is
// unchanged: of any number of concurrent calls with the same id, exactly one
// gets the state and the others get ErrStateInvalid. An expired state is deleted and refused
// (Firestore's TTL deletion can lag by a day, so expiry is checked here).
// An id that is not a state's (see validStateID) is refused with
// ErrStateInvalid without a Firestore call.
func (s *Store) ConsumeState(ctx context.Context, id string, now time.Time) (*OAuthState, error) {
	if !validStateID(id) {
		return nil, ErrStateInvalid
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ref := s.stateDoc(id)
	// Read, then delete on the condition that the document is still the
	// one read: of concurrent callbacks with one state, exactly one delete
	// succeeds (two RPCs, no transaction).
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, ErrStateInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("consume oauth state: %w", err)
	}
	var st OAuthState
	if err := snap.DataTo(&st); err != nil {
		return nil, fmt.Errorf("decode oauth state: %w", err)
	}
	_, err = ref.Delete(ctx, firestore.LastUpdateTime(snap.UpdateTime))
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.FailedPrecondition:
		return nil, ErrStateInvalid // consumed by a concurrent callback
	default:
		return nil, fmt.Errorf("consume oauth state: %w", err)
	}
	if !now.Before(st.ExpiresAt) || st.Provider != Provider {
		return nil, ErrStateInvalid
	}
	return &st, nil
}

// Profile is the public profile of a connected account.
type Profile struct {
	PlatformID  string `firestore:"platformId"`
	DisplayName string `firestore:"displayName"`
	Username    string `firestore:"username"`
	AvatarURL   string `firestore:"avatarUrl"`
	AccountType string `firestore:"accountType"`
}

// Extra holds provider-specific identifiers.
type Extra struct {
	ThreadsUserID string `firestore:"threadsUserId"`
}

// Account is a connected Threads account, stored at AccountPath(uid, id).
// AccessToken holds the sealed token, never the plaintext.
type Account struct {
	AccountID        string    `firestore:"accountId"`
	AccessToken      string    `firestore:"accessToken"`
	AccessTokenKeyID string    `firestore:"accessTokenKeyId"`
	TokenType        string    `firestore:"tokenType"`
	ExpiresIn        int64     `firestore:"expiresIn"`
	ExpiresAt        time.Time `firestore:"expiresAt"`
	// TokenIssuedAt is when the long-lived token was obtained (refresh needs it 24 h old).
	TokenIssuedAt time.Time `firestore:"tokenIssuedAt"`
	// RefreshLeaseUntil marks a token refresh in progress (see ClaimTokenRefresh).
	RefreshLeaseUntil time.Time `firestore:"refreshLeaseUntil,omitempty"`
	UpdatedAt         time.Time `firestore:"updatedAt"`
	Profile           Profile   `firestore:"profile"`
	Extra             Extra     `firestore:"extra"`
	Status            string    `firestore:"status"`
}

// AccountPath is the document path of a user's account.
func AccountPath(uid, accountID string) string {
	return "users/" + uid + "/integrations/threads/accounts/" + accountID
}

func (s *Store) accountDoc(uid, accountID string) *firestore.DocumentRef {
	return s.fs.Doc(AccountPath(uid, accountID))
}

// SaveAccount seals plaintextToken into a.AccessToken (bound to the
// document's path, so a ciphertext copied to another document does not
// open) and writes the account, replacing a previous connection of the same
// account in place.
func (s *Store) SaveAccount(ctx context.Context, uid string, a Account, plaintextToken string) error {
	if s.keyring == nil {
		return ErrNoKeyring
	}
	path := AccountPath(uid, a.AccountID)
	sealed, keyID, err := s.keyring.Seal([]byte(plaintextToken), []byte(path))
	if err != nil {
		return fmt.Errorf("seal access token: %w", err)
	}
	a.AccessToken, a.AccessTokenKeyID = sealed, keyID
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.accountDoc(uid, a.AccountID).Set(ctx, a); err != nil {
		return fmt.Errorf("save account: %w", err)
	}
	return nil
}

// GetAccount reads an account; ErrNotFound when there is none.
func (s *Store) GetAccount(ctx context.Context, uid, accountID string) (*Account, error) {
	snap, err := s.get(ctx, s.accountDoc(uid, accountID))
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("get account: %w", err)
	}
	return decodeAccount(snap)
}

func decodeAccount(snap *firestore.DocumentSnapshot) (*Account, error) {
	var a Account
	if err := snap.DataTo(&a); err != nil {
		return nil, fmt.Errorf("decode account %s: %w", snap.Ref.ID, err)
	}
	return &a, nil
}

// OpenToken returns the plaintext access token of an account read with GetAccount.
func (s *Store) OpenToken(uid string, a *Account) (string, error) {
	if s.keyring == nil {
		return "", ErrNoKeyring
	}
	pt, err := s.keyring.Open(a.AccessToken, a.AccessTokenKeyID, []byte(AccountPath(uid, a.AccountID)))
	if err != nil {
		return "", fmt.Errorf("open access token: %w", err)
	}
	return string(pt), nil
}
