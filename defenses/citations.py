"""Papers that several defenses cite."""

SHOKRI_2017 = """@inproceedings{shokri2017membership,
  title={Membership Inference Attacks Against Machine Learning Models},
  author={Shokri, Reza and Stronati, Marco and Song, Congzheng and Shmatikov, Vitaly},
  booktitle={IEEE Symposium on Security and Privacy (S\\&P)},
  year={2017}
}"""

JIA_2019 = """@inproceedings{jia2019memguard,
  title={{MemGuard}: Defending against Black-Box Membership Inference Attacks via Adversarial Examples},
  author={Jia, Jinyuan and Salem, Ahmed and Backes, Michael and Zhang, Yang and Gong, Neil Zhenqiang},
  booktitle={ACM Conference on Computer and Communications Security (CCS)},
  pages={259--274},
  year={2019}
}"""
