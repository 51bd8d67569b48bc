// OpenMPI's C interface (pkg-config ompi-c), plus accessors for its predefined handles.
//
// OpenMPI defines MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE... as macros that cast the
// address of a global (or a small integer) to a handle type. Swift imports only simple constant
// macros, so each handle the Cluster module needs gets a static inline function here.
#include <mpi.h>

static inline MPI_Comm dro_mpi_comm_world(void) { return MPI_COMM_WORLD; }

static inline MPI_Datatype dro_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype dro_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype dro_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype dro_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype dro_mpi_int64(void) { return MPI_INT64_T; }

static inline MPI_Op dro_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op dro_mpi_max(void) { return MPI_MAX; }

/// MPI_IN_PLACE: the send buffer of an in-place collective.
static inline void *dro_mpi_in_place(void) { return MPI_IN_PLACE; }

/// MPI_STATUSES_IGNORE: for MPI_Testall / MPI_Waitall when the statuses are not needed.
static inline MPI_Status *dro_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
