// Package tokencrypt encrypts access tokens at rest with AES-256-GCM.
//
// A Keyring holds one active key, used to seal, and any number of older keys,
// used to open. Each ciphertext is stored beside the id of the key that
// sealed it, so keys can rotate: put the new key first, keep the old ones
// after it until every stored token has been re-sealed or has expired.
//
// The text form of a keyring (what TOKEN_ENCRYPTION_KEY or the Secret Manager
// payload holds) is a comma-separated list of "keyID:base64key" entries, the
// active key first:
//
//	k2:<base64 of 32 bytes>,k1:<base64 of 32 bytes>
//
// GenerateKeyText makes a new entry.
package tokencrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

const (
	// keySize is the AES-256 key length in bytes.
	keySize = 32
	// maxKeyIDLen bounds key ids, which are stored beside every ciphertext.
	maxKeyIDLen = 64
)

var (
	// ErrInvalidKeyring is wrapped by every ParseKeyring error.
	ErrInvalidKeyring = errors.New("tokencrypt: invalid keyring")
	// ErrUnknownKey is wrapped by Open when the keyring has no key with the
	// given id.
	ErrUnknownKey = errors.New("tokencrypt: unknown key id")
	// ErrDecrypt is wrapped by Open when a ciphertext is malformed, was
	// tampered with, or was sealed with other additional data.
	ErrDecrypt = errors.New("tokencrypt: cannot decrypt")
)

// Keyring holds one active key (used to seal) and any number of older keys
// (used to open). It is immutable and safe for concurrent use. Its String
// method prints key ids only, never key material.
type Keyring struct {
	active string
	ids    []string // in text order, active first
	aeads  map[string]cipher.AEAD
}

// ParseKeyring parses the text form "keyID:base64key[,keyID:base64key...]";
// the first entry is the active key. Keys are 32 bytes in standard or URL
// base64, padded or not; whitespace around entries, ids and keys is ignored.
// Key ids are 1 to 64 characters of [A-Za-z0-9_-] and must be unique. Errors
// wrap ErrInvalidKeyring and never contain key material: they name an entry
// by its number, never by its key id, because an entry with its parts
// swapped ("<unpadded base64 key>:k1") has the key where the id should be,
// and an unpadded base64 key without '+' or '/' is a valid key id.
func ParseKeyring(text string) (*Keyring, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidKeyring)
	}
	k := &Keyring{aeads: make(map[string]cipher.AEAD)}
	for i, entry := range strings.Split(text, ",") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("%w: entry %d is empty", ErrInvalidKeyring, n)
		}
		id, b64, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("%w: entry %d is not of the form keyID:base64key", ErrInvalidKeyring, n)
		}
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		// No error below repeats the id (see the doc comment): even one that
		// passes checkKeyID may be a key.
		if err := checkKeyID(id); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrInvalidKeyring, n, err)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("%w: entry %d: duplicate key id", ErrInvalidKeyring, n)
		}
		if b64 == "" {
			return nil, fmt.Errorf("%w: entry %d: key is empty", ErrInvalidKeyring, n)
		}
		key, ok := decodeBase64(b64)
		if !ok {
			// The decoder's error is dropped on purpose; nothing of the key
			// is repeated.
			return nil, fmt.Errorf("%w: entry %d: key is not valid base64", ErrInvalidKeyring, n)
		}
		if len(key) != keySize {
			clear(key)
			return nil, fmt.Errorf("%w: entry %d: key is %d bytes, want %d", ErrInvalidKeyring, n, len(key), keySize)
		}
		aead, err := newAEAD(key)
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrInvalidKeyring, n, err)
		}
		k.aeads[id] = aead
		k.ids = append(k.ids, id)
	}
	k.active = k.ids[0]
	return k, nil
}

// ActiveKeyID returns the id of the key Seal uses.
func (k *Keyring) ActiveKeyID() string {
	if k == nil {
		return ""
	}
	return k.active
}

// String describes the keyring by key ids only, e.g.
// "tokencrypt.Keyring{active: k2, keys: [k2 k1]}", so printing or logging a
// Keyring cannot leak keys.
func (k *Keyring) String() string {
	if k == nil {
		return "tokencrypt.Keyring(nil)"
	}
	return fmt.Sprintf("tokencrypt.Keyring{active: %s, keys: %v}", k.active, k.ids)
}

// GoString is String, so that %#v does not print internals either.
func (k *Keyring) GoString() string { return k.String() }

// Seal encrypts plaintext with the active key under a fresh random 12-byte
// nonce. aad binds the ciphertext to its place (the caller passes e.g. the
// document path), so a ciphertext copied elsewhere does not open. It returns
// the unpadded URL-safe base64 of nonce||ciphertext||tag and the id of the
// key used, to be stored together.
func (k *Keyring) Seal(plaintext, aad []byte) (ciphertext, keyID string, err error) {
	if k == nil || k.active == "" {
		return "", "", errors.New("tokencrypt: seal with an empty keyring")
	}
	aead := k.aeads[k.active]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", "", fmt.Errorf("tokencrypt: generate nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, plaintext, aad)
	return base64.RawURLEncoding.EncodeToString(out), k.active, nil
}

// Open decrypts a ciphertext made by Seal with the key keyID and the same
// aad. It returns an error wrapping ErrUnknownKey when the keyring has no such
// key, and one wrapping ErrDecrypt when the ciphertext is malformed, was
// tampered with or was sealed with different aad.
func (k *Keyring) Open(ciphertext, keyID string, aad []byte) ([]byte, error) {
	var aead cipher.AEAD
	if k != nil {
		aead = k.aeads[keyID]
	}
	if aead == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	raw, err := base64.RawURLEncoding.DecodeString(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64url", ErrDecrypt)
	}
	ns := aead.NonceSize()
	if len(raw) < ns+aead.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext too short", ErrDecrypt)
	}
	plaintext, err := aead.Open(nil, raw[:ns], raw[ns:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (tampered, wrong key or wrong aad)", ErrDecrypt)
	}
	return plaintext, nil
}

// GenerateKeyText returns a new keyring entry "keyID:<standard base64 of 32
// random bytes>", for docs and local setup. Prepend it (with a comma) to an
// existing keyring text to rotate.
func GenerateKeyText(keyID string) (string, error) {
	if err := checkKeyID(keyID); err != nil {
		return "", fmt.Errorf("tokencrypt: generate key: %w", err)
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("tokencrypt: generate key: %w", err)
	}
	defer clear(key)
	return keyID + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// checkKeyID reports whether id is 1..64 characters of [A-Za-z0-9_-]. Its
// error does not repeat id.
func checkKeyID(id string) error {
	if id == "" {
		return errors.New("key id is empty")
	}
	if len(id) > maxKeyIDLen {
		return fmt.Errorf("key id is longer than %d characters", maxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return errors.New("key id may contain only A-Z, a-z, 0-9, '_' and '-'")
		}
	}
	return nil
}

// decodeBase64 decodes standard or URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
