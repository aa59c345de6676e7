package tokencrypt_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"threadsfunctions.dev/shared/tokencrypt"
)

// Fixed test keys. key1 encodes to different standard and URL base64 ("+/"
// versus "-_") and needs padding, so every accepted spelling is exercised.
var (
	key1 = bytes.Repeat([]byte{0xfb, 0xff, 0xbf, 0x01}, 8)
	key2 = bytes.Repeat([]byte{0x42}, 32)
)

func std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustParse(t *testing.T, text string) *tokencrypt.Keyring {
	t.Helper()
	k, err := tokencrypt.ParseKeyring(text)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return k
}

func TestParseKeyringValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		text       string
		wantActive string
	}{
		{name: "std padded", text: "k1:" + std(key1), wantActive: "k1"},
		{name: "std raw", text: "k1:" + base64.RawStdEncoding.EncodeToString(key1), wantActive: "k1"},
		{name: "url padded", text: "k1:" + base64.URLEncoding.EncodeToString(key1), wantActive: "k1"},
		{name: "url raw", text: "k1:" + base64.RawURLEncoding.EncodeToString(key1), wantActive: "k1"},
		{name: "two keys, first active", text: "k2:" + std(key2) + ",k1:" + std(key1), wantActive: "k2"},
		{name: "whitespace and trailing newline", text: "  k2 : " + std(key2) + " ,\n k1:" + std(key1) + "\n", wantActive: "k2"},
		{name: "id charset", text: "Key_2024-01:" + std(key1), wantActive: "Key_2024-01"},
		{name: "id of 64 chars", text: strings.Repeat("a", 64) + ":" + std(key1), wantActive: strings.Repeat("a", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := mustParse(t, tc.text)
			if got := k.ActiveKeyID(); got != tc.wantActive {
				t.Errorf("ActiveKeyID = %q, want %q", got, tc.wantActive)
			}
		})
	}
}

// Every spelling of the same key must give the same key: a ciphertext sealed
// under one spelling opens under the others.
func TestParseKeyringSpellingsAgree(t *testing.T) {
	t.Parallel()
	sealer := mustParse(t, "k1:"+std(key1))
	ct, id, err := sealer.Seal([]byte("tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k := mustParse(t, "k1:"+enc.EncodeToString(key1))
		if _, err := k.Open(ct, id, nil); err != nil {
			t.Errorf("Open with key spelled %q: %v", enc.EncodeToString(key1), err)
		}
	}
}

func TestParseKeyringErrors(t *testing.T) {
	t.Parallel()
	k1, k2 := std(key1), std(key2)
	short := std(key1[:16])
	long := std(append(append([]byte{}, key1...), 0x07))
	// Unpadded spellings that are also valid key ids: key1's URL form has
	// '-' and '_', key2's standard form neither '+' nor '/'.
	urlRaw1, stdRaw2 := base64.RawURLEncoding.EncodeToString(key1), base64.RawStdEncoding.EncodeToString(key2)
	tests := []struct {
		name    string
		text    string
		wantMsg string // substring of the error
	}{
		{name: "empty", text: "", wantMsg: "empty"},
		{name: "whitespace only", text: " \n\t", wantMsg: "empty"},
		{name: "no colon", text: k1, wantMsg: "entry 1 is not of the form"},
		{name: "empty id", text: ":" + k1, wantMsg: "key id is empty"},
		{name: "empty key", text: "k1:", wantMsg: "key is empty"},
		{name: "not base64", text: "k1:" + k1[:20] + "!!" + k1[22:], wantMsg: "not valid base64"},
		{name: "mixed alphabets", text: "k1:+-" + k1[2:], wantMsg: "not valid base64"},
		{name: "key 16 bytes", text: "k1:" + short, wantMsg: "key is 16 bytes, want 32"},
		{name: "key 33 bytes", text: "k1:" + long, wantMsg: "key is 33 bytes, want 32"},
		{name: "duplicate id", text: "k1:" + k1 + ",k1:" + k2, wantMsg: "entry 2: duplicate key id"},
		{name: "id with space", text: "k 1:" + k1, wantMsg: "may contain only"},
		{name: "id with slash", text: "a/b:" + k1, wantMsg: "may contain only"},
		{name: "id with colon-free base64 chars", text: "k+1=:" + k1, wantMsg: "may contain only"},
		{name: "id non-ASCII", text: "clé:" + k1, wantMsg: "may contain only"},
		{name: "id 65 chars", text: strings.Repeat("a", 65) + ":" + k1, wantMsg: "longer than 64"},
		{name: "swapped parts", text: k1 + ":k1", wantMsg: "may contain only"},
		// Swapped, a key in unpadded base64 without '+' or '/' is a valid
		// key id: the errors that follow must not repeat it.
		{name: "swapped parts, raw url key", text: urlRaw1 + ":k1", wantMsg: "entry 1: key is 1 bytes, want 32"},
		{name: "swapped parts, raw std key", text: stdRaw2 + ":k1", wantMsg: "entry 1: key is 1 bytes, want 32"},
		{name: "swapped parts, second entry", text: "k2:" + k2 + "," + urlRaw1 + ":k1", wantMsg: "entry 2: key is 1 bytes, want 32"},
		{name: "swapped parts, empty key", text: urlRaw1 + ":", wantMsg: "entry 1: key is empty"},
		{name: "swapped parts, key not base64", text: stdRaw2 + ":k!", wantMsg: "entry 1: key is not valid base64"},
		{name: "duplicate key-like id", text: urlRaw1 + ":" + k2 + "," + urlRaw1 + ":" + k2, wantMsg: "entry 2: duplicate key id"},
		{name: "empty entry in the middle", text: "k1:" + k1 + ",,k2:" + k2, wantMsg: "entry 2 is empty"},
		{name: "trailing comma", text: "k1:" + k1 + ",", wantMsg: "entry 2 is empty"},
		{name: "second entry bad", text: "k2:" + k2 + ",k1:" + short, wantMsg: "entry 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tokencrypt.ParseKeyring(tc.text)
			if err == nil {
				t.Fatalf("ParseKeyring succeeded: %v", k)
			}
			if !errors.Is(err, tokencrypt.ErrInvalidKeyring) {
				t.Errorf("err = %v, want ErrInvalidKeyring", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantMsg)
			}
			assertNoKeyMaterial(t, err.Error(), key1, key2)
		})
	}
}

// assertNoKeyMaterial fails if msg contains any spelling of the keys, or a
// sizeable piece of one.
func assertNoKeyMaterial(t *testing.T, msg string, keys ...[]byte) {
	t.Helper()
	for _, key := range keys {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			s := enc.EncodeToString(key)
			for i := 0; i+8 <= len(s); i++ {
				if strings.Contains(msg, s[i:i+8]) {
					t.Errorf("message %q contains key material %q", msg, s[i:i+8])
					return
				}
			}
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	k := mustParse(t, "k1:"+std(key1))
	aad := []byte("users/u1/threads/account")
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{name: "token", plaintext: []byte("THAAabc123-long-lived-access-token")},
		{name: "empty", plaintext: []byte{}},
		{name: "binary", plaintext: []byte{0, 1, 2, 0xff}},
		{name: "large", plaintext: bytes.Repeat([]byte("x"), 64<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, id, err := k.Seal(tc.plaintext, aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if id != "k1" {
				t.Errorf("Seal key id = %q, want k1", id)
			}
			if _, err := base64.RawURLEncoding.DecodeString(ct); err != nil {
				t.Errorf("ciphertext is not unpadded base64url: %v", err)
			}
			if len(tc.plaintext) > 8 && strings.Contains(ct, string(tc.plaintext[:8])) {
				t.Error("ciphertext contains plaintext")
			}
			got, err := k.Open(ct, id, aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open = %q, want %q", got, tc.plaintext)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	t.Parallel()
	k := mustParse(t, "k1:"+std(key1))
	seen := make(map[string]bool)
	for range 100 {
		ct, _, err := k.Seal([]byte("same"), nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(ct)
		nonce := string(raw[:12])
		if seen[nonce] {
			t.Fatal("nonce repeated")
		}
		seen[nonce] = true
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	aad := []byte("users/u1")
	old := mustParse(t, "k1:"+std(key1))
	ct, id, err := old.Seal([]byte("old-token"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if id != "k1" {
		t.Fatalf("old ring sealed with %q, want k1", id)
	}

	rotated := mustParse(t, "k2:"+std(key2)+",k1:"+std(key1))
	got, err := rotated.Open(ct, id, aad)
	if err != nil {
		t.Fatalf("rotated ring cannot open a k1 ciphertext: %v", err)
	}
	if string(got) != "old-token" {
		t.Errorf("Open = %q, want old-token", got)
	}

	if rotated.ActiveKeyID() != "k2" {
		t.Errorf("ActiveKeyID = %q, want k2", rotated.ActiveKeyID())
	}
	ct2, id2, err := rotated.Seal([]byte("new-token"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if id2 != "k2" {
		t.Errorf("rotated ring sealed with %q, want k2", id2)
	}
	// The old ring does not know k2.
	if _, err := old.Open(ct2, id2, aad); !errors.Is(err, tokencrypt.ErrUnknownKey) {
		t.Errorf("old ring Open(k2 ciphertext) err = %v, want ErrUnknownKey", err)
	}
	// A ciphertext labelled with the wrong key id does not open.
	if _, err := rotated.Open(ct2, "k1", aad); !errors.Is(err, tokencrypt.ErrDecrypt) {
		t.Errorf("Open(k2 ciphertext as k1) err = %v, want ErrDecrypt", err)
	}
}

func TestOpenFailures(t *testing.T) {
	t.Parallel()
	k := mustParse(t, "k2:"+std(key2)+",k1:"+std(key1))
	aad := []byte("users/u1/threads/account")
	ct, id, err := k.Seal([]byte("access-token"), aad)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(ct)
	flip := func(i int) string {
		b := append([]byte{}, raw...)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}

	tests := []struct {
		name    string
		ct      string
		keyID   string
		aad     []byte
		wantErr error
	}{
		{name: "wrong aad", ct: ct, keyID: id, aad: []byte("users/u2/threads/account"), wantErr: tokencrypt.ErrDecrypt},
		{name: "nil aad", ct: ct, keyID: id, aad: nil, wantErr: tokencrypt.ErrDecrypt},
		{name: "tampered nonce", ct: flip(0), keyID: id, aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "tampered body", ct: flip(12), keyID: id, aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "tampered tag", ct: flip(len(raw) - 1), keyID: id, aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "truncated", ct: base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), keyID: id, aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "too short", ct: base64.RawURLEncoding.EncodeToString(raw[:27]), keyID: id, aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "empty", ct: "", keyID: id, aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "not base64url", ct: ct + "!", keyID: id, aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "padded base64", ct: base64.URLEncoding.EncodeToString(raw[:len(raw)-1]) + "=", keyID: id, aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "other known key", ct: ct, keyID: "k1", aad: aad, wantErr: tokencrypt.ErrDecrypt},
		{name: "unknown key id", ct: ct, keyID: "k9", aad: aad, wantErr: tokencrypt.ErrUnknownKey},
		{name: "empty key id", ct: ct, keyID: "", aad: aad, wantErr: tokencrypt.ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.Open(tc.ct, tc.keyID, tc.aad)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open err = %v, want %v", err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("Open returned plaintext %q with an error", got)
			}
			if strings.Contains(err.Error(), "access-token") {
				t.Errorf("error %q contains the plaintext", err)
			}
			assertNoKeyMaterial(t, err.Error(), key1, key2)
		})
	}
}

func TestNilKeyring(t *testing.T) {
	t.Parallel()
	var k *tokencrypt.Keyring
	if k.ActiveKeyID() != "" {
		t.Error("nil ActiveKeyID not empty")
	}
	if _, _, err := k.Seal([]byte("x"), nil); err == nil {
		t.Error("nil Seal succeeded")
	}
	if _, err := k.Open("AAAA", "k1", nil); !errors.Is(err, tokencrypt.ErrUnknownKey) {
		t.Errorf("nil Open err = %v, want ErrUnknownKey", err)
	}
}

func TestKeyringPrintsNoKeys(t *testing.T) {
	t.Parallel()
	k := mustParse(t, "k2:"+std(key2)+",k1:"+std(key1))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(verb, k)
		if !strings.Contains(got, "k2") || !strings.Contains(got, "k1") {
			t.Errorf("Sprintf(%s) = %q, want key ids", verb, got)
		}
		assertNoKeyMaterial(t, got, key1, key2)
	}
}

func TestGenerateKeyText(t *testing.T) {
	t.Parallel()
	a, err := tokencrypt.GenerateKeyText("k3")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tokencrypt.GenerateKeyText("k3")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two generated keys are equal")
	}
	id, b64, ok := strings.Cut(a, ":")
	if !ok || id != "k3" {
		t.Fatalf("GenerateKeyText = %q, want k3:<base64>", a)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != 32 {
		t.Errorf("key part decodes to %d bytes (err %v), want 32", len(key), err)
	}
	k := mustParse(t, a+",k2:"+std(key2))
	if k.ActiveKeyID() != "k3" {
		t.Errorf("ActiveKeyID = %q, want k3", k.ActiveKeyID())
	}

	for _, bad := range []string{"", "a b", strings.Repeat("x", 65)} {
		if _, err := tokencrypt.GenerateKeyText(bad); err == nil {
			t.Errorf("GenerateKeyText(%q) succeeded", bad)
		}
	}
}
