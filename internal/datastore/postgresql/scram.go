package postgresql

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
)

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramSaltLen is the salt length PostgreSQL uses (SCRAM_DEFAULT_SALT_LEN).
const scramSaltLen = 16

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>", with a
// random salt. The server takes a string in this form as an already
// encrypted password. Passwords must be printable ASCII (validatePassword),
// for which SASLprep, which the server applies, changes nothing.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("postgresql: salt: %w", err)
	}
	return scramVerifierSalt(password, salt, scramIterations)
}

func scramVerifierSalt(password string, salt []byte, iter int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("postgresql: derive key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	enc := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(iter) + ":" + enc(salt) + "$" + enc(storedKey[:]) + ":" + enc(serverKey), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
