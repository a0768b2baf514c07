package datastore

// Variables a container driver (the Kubernetes driver) sets in every
// engine container, from the instance's Secret: hoard's administrative
// account. A Container's readiness command may read them.
const (
	EnvAdminUser     = "HOARD_ADMIN_USER"
	EnvAdminPassword = "HOARD_ADMIN_PASSWORD"
)

// Containerized is an optional Engine capability: the engine knows how its
// container image runs one instance, so that a driver that runs engines in
// containers (Kubernetes) needs no knowledge of its own about the engine.
// A driver runs an engine without it only with an image it is given, and
// checks readiness by opening the port.
type Containerized interface {
	// Container describes the container that runs the instance of spec,
	// whose paths and port are those inside the container (spec.DataDir is
	// the data directory there, spec.Port the port the server listens on).
	// It is pure. Image and the variable names do not depend on spec: a
	// driver may ask for them with a zero Spec.
	Container(spec Spec) Container
}

// Container is how an engine's container image runs one instance: the
// server's command is Process().ServerArgs, given to the image's
// entrypoint, and its configuration is Process().Render's files.
type Container struct {
	// Image is the default image reference. Its tag names the version it
	// runs: it is the version a container driver offers.
	Image string
	// AdminUserEnv and AdminPasswordEnv name the image's own variables
	// that receive hoard's administrative account (user and password) from
	// the instance's Secret, besides EnvAdminUser and EnvAdminPassword;
	// "" when the image has none.
	AdminUserEnv     string
	AdminPasswordEnv string
	// Env are further variables with plain values, in the order given.
	Env []EnvVar
	// Readiness is the command, run in the container without a shell
	// unless it starts one, that tells whether the server is ready for
	// hoard: exit status 0 when it is; nil for none (the driver then only
	// opens the port). It must fail while the image initialises an empty
	// data directory (the official images do it with a temporary server
	// that does not listen on TCP, so the engines ask over TCP on the
	// loopback address). It must not need hoard's administrative account,
	// which the bootstrap step creates only once the server is ready, and
	// must never hold a password in its arguments (EnvAdminPassword is in
	// the environment).
	Readiness []string
	// Prepare is a command run before every start of the server, in an init
	// container of the same image with the data volume mounted (as the
	// local driver runs a Preparer), without a shell unless it starts one;
	// nil for none. It must be idempotent and quick.
	Prepare []string
}

// EnvVar is an environment variable of a container.
type EnvVar struct {
	Name  string
	Value string
}
