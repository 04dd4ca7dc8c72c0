namespace RoboFactory.Sim.Interop;

/// <summary>
/// Byte offsets and sizes of the MuJoCo 2.2.2 struct fields we read (x86-64 Linux).
/// Only what we use is mirrored; the Sim tests compile mujoco_layout.c against the installed
/// headers and check every entry of <see cref="All"/>.
/// </summary>
internal static class MjLayout
{
    // mjModel
    public const int Model_nq = 0, Model_nv = 4, Model_nu = 8, Model_nbody = 16, Model_njnt = 20,
        Model_ngeom = 24, Model_nsite = 28, Model_ncam = 32, Model_opt = 232,
        Model_body_parentid = 1112, Model_body_mass = 1240, Model_jnt_type = 1280, Model_jnt_qposadr = 1288,
        Model_jnt_dofadr = 1296, Model_jnt_bodyid = 1304, Model_jnt_range = 1368, Model_geom_bodyid = 1520,
        Model_geom_size = 1592, Model_site_bodyid = 1680, Model_cam_fovy = 1816, Model_actuator_trnid = 2728;

    // mjOption
    public const int Option_timestep = 0, Option_integrator = 200;

    // mjData
    public const int Data_warning = 24, Data_nefc = 40328, Data_ncon = 40332, Data_time = 40336,
        Data_qpos = 40376, Data_qvel = 40384, Data_ctrl = 40408, Data_qfrc_applied = 40416, Data_qacc = 40448,
        Data_xpos = 40480, Data_xquat = 40488, Data_xmat = 40496, Data_geom_xpos = 40536, Data_geom_xmat = 40544,
        Data_site_xpos = 40552, Data_site_xmat = 40560, Data_cam_xpos = 40568, Data_cam_xmat = 40576,
        Data_qfrc_bias = 40976, Data_contact = 40752, Data_mocap_pos = 40432, Data_mocap_quat = 40440;

    // mjContact
    public const int Contact_dist = 0, Contact_pos = 8, Contact_frame = 32, Contact_geom1 = 508,
        Contact_geom2 = 512, Contact_exclude = 516, Contact_efc_address = 520;

    // mjWarningStat
    public const int WarningStat_lastinfo = 0, WarningStat_number = 4;

    // mjvCamera
    public const int Camera_type = 0, Camera_fixedcamid = 4, Camera_trackbodyid = 8, Camera_lookat = 16;

    // mjvScene
    public const int Scene_flags = 8628;

    public const int SizeOf_mjContact = 528, SizeOf_mjWarningStat = 8, SizeOf_mjvCamera = 64, SizeOf_mjvOption = 68,
        SizeOf_mjvScene = 8656, SizeOf_mjrContext = 2304, SizeOf_mjrRect = 16, SizeOf_mjtNum = 8;

    // enums and array sizes
    public const int mjNWARNING = 8, mjNRNDFLAG = 10, mjRND_SHADOW = 0, mjRND_REFLECTION = 2, mjRND_SKYBOX = 4,
        mjWARN_BADQPOS = 4, mjWARN_BADQVEL = 5, mjWARN_BADQACC = 6, mjOBJ_BODY = 1, mjOBJ_JOINT = 3, mjOBJ_GEOM = 5, mjOBJ_SITE = 6, mjOBJ_CAMERA = 7,
        mjOBJ_ACTUATOR = 18, mjCAMERA_FIXED = 2, mjFB_OFFSCREEN = 1, mjCAT_ALL = 7, mjFONTSCALE_100 = 100;

    /// <summary>Every entry, keyed as mujoco_layout.c prints it.</summary>
    public static IReadOnlyDictionary<string, long> All { get; } = new Dictionary<string, long>
    {
        ["mjModel.nq"] = Model_nq, ["mjModel.nv"] = Model_nv, ["mjModel.nu"] = Model_nu, ["mjModel.nbody"] = Model_nbody,
        ["mjModel.njnt"] = Model_njnt, ["mjModel.ngeom"] = Model_ngeom, ["mjModel.nsite"] = Model_nsite,
        ["mjModel.ncam"] = Model_ncam, ["mjModel.opt"] = Model_opt, ["mjModel.body_parentid"] = Model_body_parentid,
        ["mjModel.body_mass"] = Model_body_mass, ["mjModel.jnt_type"] = Model_jnt_type,
        ["mjModel.jnt_qposadr"] = Model_jnt_qposadr, ["mjModel.jnt_dofadr"] = Model_jnt_dofadr,
        ["mjModel.jnt_bodyid"] = Model_jnt_bodyid, ["mjModel.jnt_range"] = Model_jnt_range,
        ["mjModel.geom_bodyid"] = Model_geom_bodyid, ["mjModel.geom_size"] = Model_geom_size,
        ["mjModel.site_bodyid"] = Model_site_bodyid, ["mjModel.cam_fovy"] = Model_cam_fovy,
        ["mjModel.actuator_trnid"] = Model_actuator_trnid,
        ["mjOption.timestep"] = Option_timestep, ["mjOption.integrator"] = Option_integrator,
        ["mjData.warning"] = Data_warning, ["mjData.nefc"] = Data_nefc, ["mjData.ncon"] = Data_ncon,
        ["mjData.time"] = Data_time, ["mjData.qpos"] = Data_qpos, ["mjData.qvel"] = Data_qvel,
        ["mjData.ctrl"] = Data_ctrl, ["mjData.qfrc_applied"] = Data_qfrc_applied, ["mjData.qacc"] = Data_qacc,
        ["mjData.xpos"] = Data_xpos, ["mjData.xquat"] = Data_xquat, ["mjData.xmat"] = Data_xmat,
        ["mjData.geom_xpos"] = Data_geom_xpos, ["mjData.geom_xmat"] = Data_geom_xmat,
        ["mjData.site_xpos"] = Data_site_xpos, ["mjData.site_xmat"] = Data_site_xmat,
        ["mjData.cam_xpos"] = Data_cam_xpos, ["mjData.cam_xmat"] = Data_cam_xmat,
        ["mjData.qfrc_bias"] = Data_qfrc_bias, ["mjData.contact"] = Data_contact,
        ["mjData.mocap_pos"] = Data_mocap_pos, ["mjData.mocap_quat"] = Data_mocap_quat,
        ["mjContact.dist"] = Contact_dist, ["mjContact.pos"] = Contact_pos, ["mjContact.frame"] = Contact_frame,
        ["mjContact.geom1"] = Contact_geom1, ["mjContact.geom2"] = Contact_geom2, ["mjContact.exclude"] = Contact_exclude,
        ["mjContact.efc_address"] = Contact_efc_address,
        ["mjWarningStat.lastinfo"] = WarningStat_lastinfo, ["mjWarningStat.number"] = WarningStat_number,
        ["mjvCamera.type"] = Camera_type, ["mjvCamera.fixedcamid"] = Camera_fixedcamid,
        ["mjvCamera.trackbodyid"] = Camera_trackbodyid, ["mjvCamera.lookat"] = Camera_lookat,
        ["mjvScene.flags"] = Scene_flags,
        ["sizeof.mjContact"] = SizeOf_mjContact, ["sizeof.mjWarningStat"] = SizeOf_mjWarningStat,
        ["sizeof.mjvCamera"] = SizeOf_mjvCamera, ["sizeof.mjvOption"] = SizeOf_mjvOption,
        ["sizeof.mjvScene"] = SizeOf_mjvScene, ["sizeof.mjrContext"] = SizeOf_mjrContext,
        ["sizeof.mjrRect"] = SizeOf_mjrRect, ["sizeof.mjtNum"] = SizeOf_mjtNum,
        ["const.mjNWARNING"] = mjNWARNING, ["const.mjNRNDFLAG"] = mjNRNDFLAG, ["const.mjRND_SHADOW"] = mjRND_SHADOW,
        ["const.mjRND_REFLECTION"] = mjRND_REFLECTION, ["const.mjRND_SKYBOX"] = mjRND_SKYBOX,
        ["const.mjWARN_BADQPOS"] = mjWARN_BADQPOS, ["const.mjWARN_BADQVEL"] = mjWARN_BADQVEL, ["const.mjWARN_BADQACC"] = mjWARN_BADQACC, ["const.mjOBJ_BODY"] = mjOBJ_BODY, ["const.mjOBJ_JOINT"] = mjOBJ_JOINT,
        ["const.mjOBJ_GEOM"] = mjOBJ_GEOM, ["const.mjOBJ_SITE"] = mjOBJ_SITE, ["const.mjOBJ_CAMERA"] = mjOBJ_CAMERA,
        ["const.mjOBJ_ACTUATOR"] = mjOBJ_ACTUATOR, ["const.mjCAMERA_FIXED"] = mjCAMERA_FIXED,
        ["const.mjFB_OFFSCREEN"] = mjFB_OFFSCREEN, ["const.mjCAT_ALL"] = mjCAT_ALL,
        ["const.mjFONTSCALE_100"] = mjFONTSCALE_100,
    };
}
