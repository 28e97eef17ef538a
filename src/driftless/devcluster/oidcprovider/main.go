// Command oidc-provider is the OpenID Connect provider driftless's tests log in
// through: zitadel/oidc's OpenID-certified provider library (pkg/op) with its
// example login page and in-memory storage, plus what that example lacks for
// SSO tests: users, clients and groups read from a JSON file, a `groups` claim in
// the ID token, and a listener on a loopback address chosen by the caller.
//
// It is a test and development provider (plain-text passwords in a file, a fixed
// token-encryption key); never expose it beyond loopback.
//
// Usage: oidc-provider -config FILE. The config file:
//
//	{"issuer": "http://127.0.0.1:5556/", "listen": "127.0.0.1:5556",
//	 "clients": [{"id": "driftless", "secret": "...", "redirectURIs": ["..."],
//	              "redirectURIGlobs": ["http://127.0.0.1:*/cb"], "postLogoutRedirectURIs": [],
//	              "public": false}],
//	 "users": [{"id": "alice", "username": "alice", "password": "...",
//	            "email": "alice@example.test", "groups": ["team-a"]}]}
//
// Once it accepts connections it prints one line "listening <issuer>" on stdout.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"golang.org/x/text/language"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const groupsScope = "groups"

type clientConfig struct {
	ID                     string   `json:"id"`
	Secret                 string   `json:"secret"`
	RedirectURIs           []string `json:"redirectURIs"`
	RedirectURIGlobs       []string `json:"redirectURIGlobs"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectURIs"`
	Public                 bool     `json:"public"`
}

type userConfig struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Password string   `json:"password"`
	Email    string   `json:"email"`
	Groups   []string `json:"groups"`
}

type config struct {
	Issuer  string         `json:"issuer"`
	Listen  string         `json:"listen"`
	Clients []clientConfig `json:"clients"`
	Users   []userConfig   `json:"users"`
}

// users implements storage.UserStore over the configured users.
type users struct {
	byID   map[string]*storage.User
	groups map[string][]string
}

func (u users) GetUserByID(id string) *storage.User { return u.byID[id] }

func (u users) GetUserByUsername(username string) *storage.User {
	for _, user := range u.byID {
		if user.Username == username {
			return user
		}
	}
	return nil
}

func (u users) ExampleClientID() string { return storage.ServiceUserID }

// client implements op.Client (and op.HasRedirectGlobs) for one configured client.
type client struct{ cfg clientConfig }

func (c client) GetID() string                    { return c.cfg.ID }
func (c client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c client) RedirectURIGlobs() []string       { return c.cfg.RedirectURIGlobs }
func (c client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }
func (c client) PostLogoutRedirectURIGlobs() []string {
	return c.cfg.RedirectURIGlobs
}

func (c client) ApplicationType() op.ApplicationType {
	if c.cfg.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c client) AuthMethod() oidc.AuthMethod {
	if c.cfg.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

func (c client) LoginURL(id string) string {
	return "/login/username?authRequestID=" + id
}

func (c client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration      { return time.Hour }

// DevMode allows http:// redirect URIs on loopback, which the tests use.
func (c client) DevMode() bool { return true }

func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

func (c client) IsScopeAllowed(scope string) bool { return scope == groupsScope }

// IDTokenUserinfoClaimsAssertion puts email and profile claims in the ID token
// too (as Dex does), so a relying party needs no userinfo call.
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }

// store is the example storage with the configured clients and a groups claim.
type store struct {
	*storage.Storage
	users   users
	clients map[string]client
}

func (s *store) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return c, nil
}

func (s *store) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := s.clients[id]
	if !ok || c.cfg.Public || subtle.ConstantTimeCompare([]byte(c.cfg.Secret), []byte(secret)) != 1 {
		return errors.New("invalid client")
	}
	return nil
}

// SetUserinfoFromRequest adds the groups claim to what the example asserts.
func (s *store) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, groupsScope) {
		info.AppendClaims(groupsScope, s.users.groups[req.GetSubject()])
	}
	return nil
}

func load(path string) (*config, *store, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var cfg config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Issuer == "" || cfg.Listen == "" {
		return nil, nil, fmt.Errorf("%s: issuer and listen are required", path)
	}
	us := users{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for _, u := range cfg.Users {
		us.byID[u.ID] = &storage.User{
			ID: u.ID, Username: u.Username, Password: u.Password, FirstName: u.Username,
			Email: u.Email, EmailVerified: true, PreferredLanguage: language.English,
		}
		groups := u.Groups
		if groups == nil {
			groups = []string{}
		}
		us.groups[u.ID] = groups
	}
	clients := map[string]client{}
	for _, c := range cfg.Clients {
		clients[c.ID] = client{cfg: c}
	}
	base := storage.NewStorageWithClients(us, map[string]*storage.Client{})
	return &cfg, &store{Storage: base, users: us, clients: clients}, nil
}

func main() {
	configPath := flag.String("config", "", "path of the JSON config file")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, st, err := load(*configPath)
	if err != nil {
		logger.Error("cannot load config", "error", err)
		os.Exit(2)
	}
	listener, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		logger.Error("cannot listen", "error", err)
		os.Exit(1)
	}
	router := exampleop.SetupServer(cfg.Issuer, st, logger, false)
	fmt.Printf("listening %s\n", cfg.Issuer)
	server := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("server terminated", "error", err)
		os.Exit(1)
	}
}
