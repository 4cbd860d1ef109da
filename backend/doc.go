// Package backend is fray's backend SPI: the seam between the typed API in package fray and
// the backends (backend/local, backend/ray, the worker side in internal/worker). Application
// code uses package fray; a backend implements JobContext and runs the functions the API
// registered here. This package does not import package fray (fray imports it), as
// database/sql/driver does not import database/sql.
package backend
