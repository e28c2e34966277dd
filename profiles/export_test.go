package profiles

// FromEnvLookup lets the external tests give FromEnv an environment of
// their own.
var FromEnvLookup = fromEnvLookup

// WithDefaults lets the external tests see the values a Config resolves to.
func (c Config) WithDefaults() Config { return c.withDefaults() }
