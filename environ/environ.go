package environ

// Environ is a CGI environ: variable names to values. Values are bytes held in
// Go strings; they need not be valid UTF-8.
type Environ map[string]string
