/* Plain C reference loop for `bench sim`: steps the same MJCF the same way the C# environment does
   (per control step: `substeps` x [mj_step1; arm gravity compensation; mj_step2]) and prints the
   seconds spent in the loop. Usage: step_loop MODEL.xml STATE.txt CONTROL_STEPS
   STATE.txt: substeps, then nq qpos values, nu ctrl values, the number of compensated dofs and their indices. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <mujoco/mujoco.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

int main(int argc, char** argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s MODEL.xml STATE.txt CONTROL_STEPS\n", argv[0]); return 2; }
  char err[1000] = "";
  mjModel* m = mj_loadXML(argv[1], NULL, err, sizeof err);
  if (!m) { fprintf(stderr, "load failed: %s\n", err); return 1; }
  mjData* d = mj_makeData(m);
  FILE* f = fopen(argv[2], "r");
  if (!f) { perror(argv[2]); return 1; }
  int substeps = 0, ndof = 0;
  if (fscanf(f, "%d", &substeps) != 1) return 1;
  for (int i = 0; i < m->nq; i++) if (fscanf(f, "%lf", &d->qpos[i]) != 1) return 1;
  for (int i = 0; i < m->nu; i++) if (fscanf(f, "%lf", &d->ctrl[i]) != 1) return 1;
  if (fscanf(f, "%d", &ndof) != 1) return 1;
  int* dofs = malloc(sizeof(int) * (ndof > 0 ? ndof : 1));
  for (int i = 0; i < ndof; i++) if (fscanf(f, "%d", &dofs[i]) != 1) return 1;
  fclose(f);
  mj_forward(m, d);
  long steps = atol(argv[3]);
  double t0 = now();
  for (long s = 0; s < steps; s++)
    for (int k = 0; k < substeps; k++) {
      mj_step1(m, d);
      for (int i = 0; i < ndof; i++) d->qfrc_applied[dofs[i]] = d->qfrc_bias[dofs[i]];
      mj_step2(m, d);
    }
  double t1 = now();
  printf("%.9f %.17g\n", t1 - t0, d->qpos[0]);
  mj_deleteData(d); mj_deleteModel(m); free(dofs);
  return 0;
}
