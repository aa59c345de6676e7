package tokencrypt_test

import (
	"testing"

	"threadsfunctions.dev/shared/tokencrypt"
)

// A long-lived Threads token is about 200 characters; the additional data
// is the account document's path.
const (
	benchToken = "THAAB" + "xKz9fQ2lVw8nR4tYbJ1uMcE6pHsLgD0aWqZ3oXyIvN7kTrF5jSdG2hUeC8mBnA1lOiPwKxYzQ4rStUvWx" +
		"Yz0AbCdEfGhIjKlMnOpQrStUvWxYz1234567890AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz"
	benchAAD = "users/0aBcDeFgHiJkLmNoPqRsTuVwXyZ1/integrations/threads/accounts/17841400000000001"
)

func benchKeyring(b *testing.B) *tokencrypt.Keyring {
	b.Helper()
	text, err := tokencrypt.GenerateKeyText("k2")
	if err != nil {
		b.Fatal(err)
	}
	older, err := tokencrypt.GenerateKeyText("k1")
	if err != nil {
		b.Fatal(err)
	}
	k, err := tokencrypt.ParseKeyring(text + "," + older)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkSeal is what thAuthCallback (and a token refresh) pays to seal
// a token before writing it.
func BenchmarkSeal(b *testing.B) {
	k := benchKeyring(b)
	pt, aad := []byte(benchToken), []byte(benchAAD)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Seal(pt, aad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen is what thPublish pays to open the account's token.
func BenchmarkOpen(b *testing.B) {
	k := benchKeyring(b)
	aad := []byte(benchAAD)
	ct, id, err := k.Seal([]byte(benchToken), aad)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(ct, id, aad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseKeyring is the per-instance cost of reading
// TOKEN_ENCRYPTION_KEY (two keys), paid once at cold start.
func BenchmarkParseKeyring(b *testing.B) {
	a, err := tokencrypt.GenerateKeyText("k2")
	if err != nil {
		b.Fatal(err)
	}
	c, err := tokencrypt.GenerateKeyText("k1")
	if err != nil {
		b.Fatal(err)
	}
	text := a + "," + c
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokencrypt.ParseKeyring(text); err != nil {
			b.Fatal(err)
		}
	}
}
