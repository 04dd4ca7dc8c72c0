/* Prints the byte offsets and sizes of the MuJoCo 2.2.2 struct fields that MjLayout.cs mirrors.
   The Sim tests compile this against the installed headers and compare with MjLayout. */
#include <stddef.h>
#include <stdio.h>
#include <mujoco/mujoco.h>

#define OFF(T, F) printf("%s.%s %zu\n", #T, #F, offsetof(T, F))
#define SIZE(T) printf("sizeof.%s %zu\n", #T, sizeof(T))

int main(void) {
  OFF(mjModel, nq); OFF(mjModel, nv); OFF(mjModel, nu); OFF(mjModel, nbody); OFF(mjModel, njnt);
  OFF(mjModel, ngeom); OFF(mjModel, nsite); OFF(mjModel, ncam); OFF(mjModel, opt);
  OFF(mjModel, body_parentid); OFF(mjModel, body_mass); OFF(mjModel, jnt_type); OFF(mjModel, jnt_qposadr);
  OFF(mjModel, jnt_dofadr); OFF(mjModel, jnt_bodyid); OFF(mjModel, jnt_range); OFF(mjModel, geom_bodyid);
  OFF(mjModel, geom_size); OFF(mjModel, site_bodyid); OFF(mjModel, cam_fovy); OFF(mjModel, actuator_trnid);
  OFF(mjOption, timestep); OFF(mjOption, integrator);
  OFF(mjData, warning); OFF(mjData, nefc); OFF(mjData, ncon); OFF(mjData, time);
  OFF(mjData, qpos); OFF(mjData, qvel); OFF(mjData, ctrl); OFF(mjData, qfrc_applied); OFF(mjData, qacc);
  OFF(mjData, xpos); OFF(mjData, xquat); OFF(mjData, xmat); OFF(mjData, geom_xpos); OFF(mjData, geom_xmat);
  OFF(mjData, site_xpos); OFF(mjData, site_xmat); OFF(mjData, cam_xpos); OFF(mjData, cam_xmat);
  OFF(mjData, qfrc_bias); OFF(mjData, contact); OFF(mjData, mocap_pos); OFF(mjData, mocap_quat);
  OFF(mjContact, dist); OFF(mjContact, pos); OFF(mjContact, frame); OFF(mjContact, geom1); OFF(mjContact, geom2);
  OFF(mjContact, exclude); OFF(mjContact, efc_address);
  OFF(mjWarningStat, lastinfo); OFF(mjWarningStat, number);
  OFF(mjvCamera, type); OFF(mjvCamera, fixedcamid); OFF(mjvCamera, trackbodyid); OFF(mjvCamera, lookat);
  OFF(mjvScene, flags);
  SIZE(mjContact); SIZE(mjWarningStat); SIZE(mjvCamera); SIZE(mjvOption); SIZE(mjvScene); SIZE(mjrContext);
  SIZE(mjrRect); SIZE(mjtNum);
  printf("const.mjNWARNING %d\n", mjNWARNING);
  printf("const.mjNRNDFLAG %d\n", mjNRNDFLAG);
  printf("const.mjRND_SHADOW %d\n", mjRND_SHADOW);
  printf("const.mjRND_REFLECTION %d\n", mjRND_REFLECTION);
  printf("const.mjRND_SKYBOX %d\n", mjRND_SKYBOX);
  printf("const.mjWARN_BADQPOS %d\n", mjWARN_BADQPOS);
  printf("const.mjWARN_BADQVEL %d\n", mjWARN_BADQVEL);
  printf("const.mjWARN_BADQACC %d\n", mjWARN_BADQACC);
  printf("const.mjOBJ_BODY %d\n", mjOBJ_BODY);
  printf("const.mjOBJ_JOINT %d\n", mjOBJ_JOINT);
  printf("const.mjOBJ_GEOM %d\n", mjOBJ_GEOM);
  printf("const.mjOBJ_SITE %d\n", mjOBJ_SITE);
  printf("const.mjOBJ_CAMERA %d\n", mjOBJ_CAMERA);
  printf("const.mjOBJ_ACTUATOR %d\n", mjOBJ_ACTUATOR);
  printf("const.mjCAMERA_FIXED %d\n", mjCAMERA_FIXED);
  printf("const.mjFB_OFFSCREEN %d\n", mjFB_OFFSCREEN);
  printf("const.mjCAT_ALL %d\n", mjCAT_ALL);
  printf("const.mjFONTSCALE_100 %d\n", mjFONTSCALE_100);
  return 0;
}
